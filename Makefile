# SPDX-License-Identifier: GPL-2.0
#
# mflow: console flow devices /dev/mflowN.
#
#   make                 build mflow.ko for KDIR (your running kernel)
#   make install         modules_install for KDIR's kernel, then depmod
#   make demo            show two processes talking over /dev/mflow0
#   make check           every test suite on the default kernels (debug,
#                        bookworm 6.1, 6.12 and 6.12 PREEMPT_RT)
#   make check-matrix    the same on every kernel: + bullseye 5.10, newest 7.x
#   make check-kcsan     the userspace suites on a KCSAN debug kernel
#   make check-harness   prove the harness reports failures
#   make bench           mflow against pipe, socketpair and pty, in a VM
#   make checkpatch      kernel style check of every kernel source
#   make compile-matrix  compile mflow for more Debian kernels (5.10 .. 7.x)
#   make dkms            register with DKMS and install for the running kernel
#   make dkms-remove     unregister from DKMS

KDIR ?= /lib/modules/$(shell uname -r)/build
SRC := $(CURDIR)
OUT ?= $(SRC)/out
KSRC = $(shell bash -c '. $(SRC)/scripts/lib.sh && source_tree')
# mflow's version lives in dkms.conf alone.
MFLOW_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(SRC)/dkms.conf)
DKMS_SRC := /usr/src/mflow-$(MFLOW_VERSION)

.PHONY: all modules install modules_install clean setup kernel matrix \
	tests tools demo bench check check-harness checkpatch compile-matrix \
	dkms dkms-add dkms-remove

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(SRC) modules

# Installing leaves the KUnit suites out, even for a kernel with KUnit.
install modules_install:
	$(MAKE) -C $(KDIR) M=$(SRC) CONFIG_KUNIT= modules
	$(MAKE) -C $(KDIR) M=$(SRC) CONFIG_KUNIT= modules_install
	depmod -a $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) \
		$(shell $(MAKE) -s -C $(KDIR) kernelrelease 2>/dev/null)

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

# Compile-only: mflow.ko (and the KUnit objects from 6.12 on) against the
# headers of bullseye, trixie, trixie-backports and sid kernels, fetched
# into the cache; nothing boots. See the header of scripts/compile-matrix.
compile-matrix:
	scripts/compile-matrix

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

.PHONY: check-matrix check-kcsan

# Every kernel of scripts/lib.sh's MFLOW_ALL_KERNELS, not only the default.
check-matrix:
	MFLOW_MATRIX=all $(MAKE) check

# A second debug kernel with KCSAN instead of KASAN (they do not combine),
# outside make check: it costs a kernel build. See scripts/check-kcsan.
check-kcsan: setup tests
	scripts/check-kcsan

check-harness: kernel
	scripts/check-harness

checkpatch: setup
	perl $(KSRC)/scripts/checkpatch.pl --no-tree --strict --terse -f \
		module/*.c module/*.h kunit/*.c kunit/*.h include/uapi/linux/mflow.h

# DKMS builds from its own copy of the sources, without the KUnit suites.
# dkms-add registers that copy; dkms also installs for DKMS_KERNEL; with
# AUTOINSTALL, DKMS rebuilds mflow for every kernel installed later.
DKMS_KERNEL ?= $(shell uname -r)

dkms: dkms-add
	dkms install -m mflow -v $(MFLOW_VERSION) -k $(DKMS_KERNEL)

dkms-add: dkms-remove
	mkdir -p $(DKMS_SRC)
	cp -r $(SRC)/dkms.conf $(SRC)/Kbuild $(SRC)/module $(SRC)/include \
		$(DKMS_SRC)/
	dkms add -m mflow -v $(MFLOW_VERSION)

dkms-remove:
	if dkms status -m mflow -v $(MFLOW_VERSION) | grep -q .; then \
		dkms remove -m mflow -v $(MFLOW_VERSION) --all; fi
	rm -rf $(DKMS_SRC)
