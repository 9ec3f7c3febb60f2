# SPDX-License-Identifier: GPL-2.0
#
# mflow: console flow devices /dev/mflowN.
#
#   make                 build mflow.ko for KDIR (your running kernel)
#   make install         modules_install into /lib/modules/<release>/extra
#   make demo            show two processes talking over /dev/mflow0
#   make check           every test suite on every kernel of the matrix
#   make check-harness   prove the harness reports failures
#   make bench           mflow against pipe, socketpair and pty, in a VM
#   make checkpatch      kernel style check of every kernel source

KDIR ?= /lib/modules/$(shell uname -r)/build
SRC := $(CURDIR)
OUT ?= $(SRC)/out
KSRC = $(shell bash -c '. $(SRC)/scripts/lib.sh && source_tree')

.PHONY: all modules install modules_install clean setup kernel matrix \
	tests tools demo bench check check-harness checkpatch

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(SRC) modules

install modules_install: modules
	$(MAKE) -C $(KDIR) M=$(SRC) modules_install
	depmod -a $(shell $(MAKE) -s -C $(KDIR) kernelrelease 2>/dev/null)

clean:
	$(MAKE) -C $(KDIR) M=$(SRC) clean 2>/dev/null || true
	rm -rf $(OUT)

# Everything below runs the test kernels in VMs; see README.md.
setup:
	scripts/setup

kernel: setup
	scripts/kernel-build

# mflow.ko (and mflow_kunit.ko where KUnit exists) for every kernel of the
# matrix, each in its own copy under $(OUT)/build/<kernel>.
matrix: kernel
	scripts/build-matrix

tests: setup
	$(MAKE) -C tests O=$(OUT)/tests KSFT_INC=$(KSRC)/tools/testing/selftests

tools:
	$(MAKE) -C tools O=$(OUT)/tools

demo: setup
	scripts/demo

bench: setup
	scripts/bench

check: matrix tests
	scripts/check

check-harness: kernel
	scripts/check-harness

checkpatch: setup
	perl $(KSRC)/scripts/checkpatch.pl --no-tree --strict --terse -f \
		module/*.c module/*.h kunit/*.c kunit/*.h include/uapi/linux/mflow.h
