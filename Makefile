# SPDX-License-Identifier: GPL-2.0
#
# mflow: console flow devices /dev/mflowN.
#
#   make                 build mflow.ko for KDIR (your running kernel),
#                        mflowctl, libmflow and the bindings (into out/)
#   make install         mflow.ko (modules_install for KDIR's kernel, then
#                        depmod), and under PREFIX (/usr/local): mflowctl,
#                        mflowctl(1), mflow(4), libmflow (libmflow.so.0,
#                        libmflow.a, <mflow/mflow.h>, mflow.pc, its man
#                        pages), the uapi header, the udev rule, the
#                        sysusers.d file and the bindings (the Python
#                        package, and the OCaml library where dune and its
#                        libraries are installed); creates group mflow
#   make modules_install only mflow.ko
#   make uninstall       remove what make install put in place (no kernel
#                        headers needed)
#   make sign            sign mflow.ko for Secure Boot (DKMS's MOK key, or
#                        KEY=private.key CERT=cert.der)
#   make deb             the Debian source and binary packages into out/deb,
#                        checked by lintian (scripts/mkdeb)
#   make bindings        only the Python package and the OCaml library,
#                        into out/bindings (docs/python.md, docs/ocaml.md)
#   make install-bindings  only install them (PYDIR=, OCAML_LIBDIR=)
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
# Staging: DESTDIR prefixes every installed path, the module's too. Not
# "?=": a parent make exports INSTALL_MOD_PATH, empty, and with "?=" a
# staged install under it went to the real /lib/modules.
DESTDIR ?=
INSTALL_MOD_PATH := $(or $(INSTALL_MOD_PATH),$(DESTDIR))
export INSTALL_MOD_PATH
# /usr/local: a source install never writes where packages keep their
# files, so a later `make uninstall` cannot delete a package's files.
# udev and systemd-sysusers read /usr/local/lib too.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
INCLUDEDIR ?= $(PREFIX)/include
LIBDIR ?= $(PREFIX)/lib
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
# make sign: DKMS's machine owner key unless KEY= and CERT= say otherwise.
KEY ?= /var/lib/dkms/mok.key
CERT ?= /var/lib/dkms/mok.pub
OUT ?= $(SRC)/out
KSRC = $(shell bash -c '. $(SRC)/scripts/lib.sh && source_tree')
# mflow's version lives in dkms.conf alone.
MFLOW_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(SRC)/dkms.conf)
DKMS_SRC := /usr/src/mflow-$(MFLOW_VERSION)

.PHONY: all modules install modules_install uninstall install-tools \
	uninstall-tools install-dev install-uapi install-nodes sign deb stage kdir clean setup kernel matrix \
	tests tools lib demo bench check check-harness checkpatch compile-matrix \
	dkms dkms-add dkms-remove

all: modules tools bindings

# A missing build tree gets advice rather than make's "No such file".
kdir:
	@if [ ! -f "$(KDIR)/Makefile" ]; then \
		echo "mflow: no kernel build tree at $(KDIR)" >&2; \
		echo "mflow: install linux-headers-$$(uname -r) (Debian, Ubuntu)," \
			"or pass KDIR=/path/to/the/kernel/build/tree" >&2; \
		exit 1; \
	fi

modules: kdir
	$(MAKE) -C $(KDIR) M=$(SRC) modules

# Installing leaves the KUnit suites out, even for a kernel with KUnit.
# A distribution kernel (CONFIG_MODULE_SIG_ALL, its key not shipped) would
# have modules_install try to sign with a key that is not there: skip that,
# `make sign` signs with yours.
SIG_KEY = $(shell sed -n 's/^CONFIG_MODULE_SIG_KEY="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' \
	$(KDIR)/include/config/auto.conf 2>/dev/null)
NO_AUTOSIGN = $(if $(wildcard $(KDIR)/$(SIG_KEY) $(SIG_KEY)),,CONFIG_MODULE_SIG_ALL=)

# KDIR's release, as modules_install uses it: UTS_RELEASE. Debian's 6.1
# headers answer "make kernelrelease" with the upstream version (6.1.192),
# not the package's (6.1.0-56-amd64).
KRELEASE = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
	$(KDIR)/include/generated/utsrelease.h 2>/dev/null)

modules_install: kdir
	$(MAKE) -C $(KDIR) M=$(SRC) CONFIG_KUNIT= modules
	$(MAKE) -C $(KDIR) M=$(SRC) CONFIG_KUNIT= $(NO_AUTOSIGN) modules_install
	depmod -a $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KRELEASE)

install: modules_install install-tools install-dev install-nodes \
	install-bindings

# mflowctl and its man page (the package mflow-tools).
install-tools:
	$(MAKE) -C tools O=$(OUT)/tools $(OUT)/tools/mflowctl
	install -D -m 0755 $(OUT)/tools/mflowctl $(DESTDIR)$(BINDIR)/mflowctl
	install -D -m 0644 tools/mflowctl.1 $(DESTDIR)$(MANDIR)/man1/mflowctl.1

# libmflow with <mflow/mflow.h>, the uapi header it includes, mflow.pc and
# its man pages (the packages libmflow0 and mflow-dev). A real install
# (no DESTDIR) refreshes the loader's cache.
LIB_DIRS = PREFIX=$(PREFIX) LIBDIR=$(LIBDIR) INCLUDEDIR=$(INCLUDEDIR) \
	MANDIR=$(MANDIR)
install-dev:
	$(MAKE) -C lib O=$(OUT)/lib $(LIB_DIRS) install
	if [ -z "$(DESTDIR)" ]; then ldconfig 2>/dev/null || true; fi

# The uapi header alone (the Debian build puts it in mflow-dev and the
# library, built apart for the multiarch directory, in libmflow0).
install-uapi:
	install -D -m 0644 include/uapi/linux/mflow.h \
		$(DESTDIR)$(INCLUDEDIR)/linux/mflow.h

# What makes the nodes usable, and mflow(4) (the package mflow-dkms): the
# udev rule and the group mflow it names, from a sysusers.d file. Without
# DESTDIR (a real install) the group is made now and udev applies the
# rule to the nodes that exist already.
install-nodes:
	install -D -m 0644 tools/60-mflow.rules \
		$(DESTDIR)$(UDEVRULESDIR)/60-mflow.rules
	install -D -m 0644 packaging/mflow.sysusers \
		$(DESTDIR)$(SYSUSERSDIR)/mflow.conf
	install -D -m 0644 man/mflow.4 $(DESTDIR)$(MANDIR)/man4/mflow.4
	if [ -z "$(DESTDIR)" ]; then \
		if command -v systemd-sysusers >/dev/null; then \
			systemd-sysusers $(SYSUSERSDIR)/mflow.conf; \
		else \
			getent group mflow >/dev/null || groupadd --system mflow; \
		fi; \
		udevadm control --reload 2>/dev/null || true; \
		udevadm trigger --subsystem-match=mflow 2>/dev/null || true; \
		udevadm trigger --subsystem-match=misc \
			--sysname-match=mflow-control 2>/dev/null || true; \
	fi

# The group stays: files elsewhere may belong to it. No kernel headers
# needed: the module goes from KDIR's release when KDIR has one, else from
# the running kernel's. modules_install puts external modules in updates/
# from 6.2 on, in extra/ before.
UNINSTALL_RELEASE = $(or $(KRELEASE),$(shell uname -r))

uninstall: uninstall-tools uninstall-bindings
	rm -f $(addprefix $(INSTALL_MOD_PATH)/lib/modules/$(UNINSTALL_RELEASE)/, \
		$(addsuffix /mflow.ko*,$(or $(INSTALL_MOD_DIR),updates extra)))
	if [ -d $(INSTALL_MOD_PATH)/lib/modules/$(UNINSTALL_RELEASE) ]; then \
		depmod -a $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) \
			$(UNINSTALL_RELEASE); \
	fi

uninstall-tools:
	$(MAKE) -C lib O=$(OUT)/lib $(LIB_DIRS) uninstall
	rm -f $(DESTDIR)$(BINDIR)/mflowctl \
		$(DESTDIR)$(MANDIR)/man1/mflowctl.1 \
		$(DESTDIR)$(MANDIR)/man4/mflow.4 \
		$(DESTDIR)$(UDEVRULESDIR)/60-mflow.rules \
		$(DESTDIR)$(SYSUSERSDIR)/mflow.conf

# Secure Boot: sign mflow.ko with KDIR's sign-file and the hash the kernel
# was configured with. Then `make install` installs the signed module, and
# `mokutil --import $(CERT)` enrolls the certificate (see docs/install.md).
sign: modules
	@for f in "$(KEY)" "$(CERT)"; do \
		[ -r "$$f" ] || { echo "mflow: cannot read $$f: give KEY=<private key> CERT=<certificate>" \
			"(DKMS makes /var/lib/dkms/mok.key and mok.pub)" >&2; exit 1; }; \
	done
	$(KDIR)/scripts/sign-file \
		$$(sed -n 's/^CONFIG_MODULE_SIG_HASH="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' \
			$(KDIR)/include/config/auto.conf 2>/dev/null | grep . || echo sha256) \
		$(KEY) $(CERT) $(SRC)/mflow.ko
	@modinfo -F signer $(SRC)/mflow.ko | sed 's/^/mflow: signed by /'

# Debian packages, debian/ generated by scripts/mkdeb; see its header.
deb:
	scripts/mkdeb $(OUT)/deb

# The language bindings: a pure-Python package (its constants made from
# the uapi header) and an OCaml library (dune). The Python package goes
# where Debian's python3 looks under PREFIX; the OCaml library where
# Debian's ocamlfind looks (its destdir for /usr/local), and only when
# dune and the OCaml libraries it needs are there (OCAML=yes or no says).
.PHONY: bindings install-bindings uninstall-bindings
PYTHON ?= python3
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYDIR ?= $(PREFIX)/lib/python$(PYVER)/dist-packages
OCAMLVER := $(shell ocamlc -version 2>/dev/null)
OCAML_LIBDIR ?= $(PREFIX)/lib/ocaml/$(OCAMLVER)
OCAML ?= $(shell command -v dune >/dev/null && \
	ocamlfind query lwt.unix cstruct-lwt fmt >/dev/null 2>&1 && echo yes)
OCAML_MISSING := mflow: the OCaml library is left out: it needs dune, lwt, \
	cstruct and fmt (apt install ocaml-dune liblwt-ocaml-dev \
	libcstruct-ocaml-dev libfmt-ocaml-dev)

bindings:
	$(MAKE) -C bindings/python O=$(OUT)/bindings/python PYTHON=$(PYTHON)
ifeq ($(OCAML),yes)
	$(MAKE) -C bindings/ocaml O=$(OUT)/bindings/ocaml
else
	@echo "$(OCAML_MISSING)"
endif

install-bindings: bindings
	$(MAKE) -C bindings/python O=$(OUT)/bindings/python PYTHON=$(PYTHON) \
		install DESTDIR=$(DESTDIR) PYDIR=$(PYDIR)
ifeq ($(OCAML),yes)
	$(MAKE) -C bindings/ocaml O=$(OUT)/bindings/ocaml install \
		PREFIX=$(PREFIX) LIBDIR=$(OCAML_LIBDIR) DESTDIR=$(DESTDIR)
endif

# Without dune or Python: the files make install-bindings puts in place.
uninstall-bindings:
	rm -rf $(DESTDIR)$(PYDIR)/mflow $(DESTDIR)$(OCAML_LIBDIR)/mflow
	rm -f $(DESTDIR)$(OCAML_LIBDIR)/stublibs/dllmflow_stubs.so

clean:
	$(MAKE) -C $(KDIR) M=$(SRC) clean 2>/dev/null || true
	rm -rf $(OUT)

# Everything below runs the test kernels in VMs; see docs/testing.md.
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
	$(MAKE) -C tests O=$(OUT)/tests KSFT_INC=$(KSRC)/tools/testing/selftests \
		MFLOW_DEB_DIR=$(OUT)/deb MFLOW_STAGE_DIR=$(OUT)/stage

tools: lib
	$(MAKE) -C tools O=$(OUT)/tools

# libmflow into $(OUT)/lib; `make -C lib install` installs it (see lib/Makefile).
lib:
	$(MAKE) -C lib O=$(OUT)/lib


# The host when it can load the module, with nothing installed; else
# scripts/demo says why and installs the VM tooling itself.
demo:
	scripts/demo

bench: setup
	scripts/bench

# scripts/check makes the packages and the staged installs (scripts/mkdeb,
# scripts/mkstage) before the VMs; the stock kernels' VMs check them
# (tests/mflow_install.sh, tests/mflow_dkms.sh).
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

# make install, uninstall and sign into $(OUT)/stage for each stock kernel.
stage: setup
	scripts/mkstage $(OUT)/stage

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
