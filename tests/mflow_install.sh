#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make install, make uninstall and make sign, with TAP output, checked
# inside the test VM of a stock Debian kernel (its headers are in
# /usr/src). scripts/mkstage made them on the host (make stage, before the
# VMs): a `make install DESTDIR=` staging root (PREFIX defaults to
# /usr/local), what `make uninstall` left of it, with the kernel's build
# tree and with none, a module signed by `make sign` with a throwaway key,
# the example of docs/ocaml.md built against the staged OCaml library, and
# make's words without a build tree. Here the staged file list is compared
# with the expected one, the staged libmflow, Python package and OCaml
# library work, modinfo names the signer, the signed module loads and
# works, and modinfo documents every parameter the loaded module has.
# tests/mflow_dkms.sh does the installs that need a writable root.
#
# Needs root, mflow loaded from MFLOW_KO with idle consoles, and
# mflow_paths.env (the test build writes it). Skips, saying why, on a
# kernel without headers (the debug kernel). Leaves mflow loaded from
# MFLOW_KO with its defaults.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tap.sh
. "$HERE/tap.sh"
build_suite_setup install

# The host staged for this kernel in $MFLOW_STAGE_DIR/<kernel>/.
stage_dir() {
	local d

	for d in "$MFLOW_STAGE_DIR"/*/; do
		[ -d "$d/root/lib/modules/$KVER" ] && echo "${d%/}" && return
	done
	return 1
}

# The bindings' files make install puts under /usr/local: the Python
# package where Debian's python3 looks, the OCaml library where Debian's
# ocamlfind looks (dune install's layout: per module its .ml, .cmi, .cmt
# and .cmx, an .mli and .cmti for those with an interface).
bindings_files() {
	local py ml m

	py=/usr/local/lib/python$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')/dist-packages/mflow
	ml=/usr/local/lib/ocaml/$(ocamlc -version)
	printf "$py/%s\n" __init__.py aio.py _uapi.py
	echo "$ml/stublibs/dllmflow_stubs.so"
	printf "$ml/mflow/%s\n" META dune-package opam libmflow_stubs.a \
		mflow.a mflow.cma mflow.cmxa mflow.cmxs
	for m in mflow_lwt mflow_mirage mflow_signatures; do
		printf "$ml/mflow/$m.%s\n" ml cmi cmt cmx
		[ $m = mflow_signatures ] || printf "$ml/mflow/$m.%s\n" mli cmti
	done
}

staged_install_file_list() {
	local stage got want

	stage=$(stage_dir) || fail "no staged install for $KVER in $MFLOW_STAGE_DIR" ||
		return
	got=$(cd "$stage/root" && find . ! -type d | sed 's|^\.||' |
		grep -v "^/lib/modules/$KVER/modules\." | sort)
	echo "$got"
	# Under /usr/local, never where packages keep their files.
	want=$( (printf '%s\n' \
		"/lib/modules/$KVER/updates/mflow.ko" \
		/usr/local/bin/mflowctl \
		/usr/local/include/linux/mflow.h \
		/usr/local/include/mflow/mflow.h \
		/usr/local/lib/libmflow.a \
		/usr/local/lib/libmflow.so \
		/usr/local/lib/libmflow.so.0 \
		/usr/local/lib/libmflow.so.0.1.0 \
		/usr/local/lib/pkgconfig/mflow.pc \
		/usr/local/lib/sysusers.d/mflow.conf \
		/usr/local/lib/udev/rules.d/60-mflow.rules \
		/usr/local/share/man/man1/mflowctl.1 \
		/usr/local/share/man/man4/mflow.4
		for m in "$MFLOW_SRC"/lib/man/*.3; do
			echo "/usr/local/share/man/man3/${m##*/}"
		done
		bindings_files) | sort)
	# The module may be compressed as the kernel's own are, and is in
	# extra/ rather than updates/ before 6.2.
	[ "$(echo "$got" | sed -e 's/\.ko\.\(xz\|zst\|gz\)$/.ko/' \
		-e "s|/$KVER/extra/|/$KVER/updates/|")" = "$want" ] ||
		fail "staged files differ from: $want" || return
	grep -Eq "(updates|extra)/mflow.ko" "$stage/root/lib/modules/$KVER/modules.dep" ||
		fail "depmod did not index the staged module" || return
	[ "$(stat -c %a "$stage/root/usr/local/bin/mflowctl")" = 755 ] ||
		fail "mflowctl mode $(stat -c %a "$stage/root/usr/local/bin/mflowctl")" ||
		return
	"$stage/root/usr/local/bin/mflowctl" --version || fail "staged mflowctl" ||
		return
	got=$(grep -v "/modules\." "$stage/uninstalled.txt")
	[ -z "$got" ] || fail "left after make uninstall: $got"
}

# A program builds against the staged libmflow with the flags its mflow.pc
# gives (prefix moved to the staging root), links the shared library by
# its soname and runs: it opens a console with mflow_open() and reads
# what the peer wrote.
staged_libmflow_builds_and_runs() {
	local stage usr flags got

	stage=$(stage_dir) || fail "no staged install for $KVER" || return
	usr=$stage/root/usr/local
	cat "$usr/lib/pkgconfig/mflow.pc"
	flags=$(PKG_CONFIG_PATH=$usr/lib/pkgconfig pkg-config \
		--define-variable=prefix="$usr" \
		--define-variable=libdir="$usr/lib" \
		--define-variable=includedir="$usr/include" \
		--cflags --libs mflow) || fail "pkg-config mflow" || return
	echo "flags: $flags"
	cat >"$WORK/hello.c" <<-'EOC'
	#include <mflow/mflow.h>
	#include <fcntl.h>
	#include <stdio.h>
	#include <string.h>
	#include <unistd.h>

	int main(void)
	{
		char buf[16] = "";
		int a, b;

		a = mflow_open("0", O_RDWR);
		b = mflow_open("0", O_RDWR);
		if (a < 0 || b < 0)
			return 2;
		if (write(a, "hello", 5) != 5 || read(b, buf, sizeof(buf)) != 5)
			return 3;
		printf("%s %s\n", mflow_lib_version(), buf);
		close(a);
		close(b);
		return strcmp(buf, "hello") ? 4 : 0;
	}
	EOC
	# shellcheck disable=SC2086 # flags are words
	cc -o "$WORK/hello" "$WORK/hello.c" $flags ||
		fail "cannot build against the staged libmflow" || return
	readelf -d "$WORK/hello" | grep -q 'NEEDED.*\[libmflow\.so\.0\]' ||
		fail "not linked to libmflow.so.0" || return
	got=$(LD_LIBRARY_PATH=$usr/lib "$WORK/hello") ||
		fail "the program exited $?: $got" || return
	echo "$got"
	[ "$got" = "$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' \
		"$MFLOW_SRC/dkms.conf") hello" ] || fail "printed '$got'"
}

# The staged bindings work from where make install put them: Python
# imports the package from its folder and moves bytes over a console with
# it; the example of docs/ocaml.md, built on the host against the staged
# OCaml library (scripts/mkstage), runs its echo and close handshake.
staged_bindings_work() {
	local stage py got

	stage=$(stage_dir) || fail "no staged install for $KVER" || return
	py=$(echo "$stage"/root/usr/local/lib/python3.*/dist-packages)
	got=$(PYTHONPATH=$py python3 -c '
import os, sys, mflow
assert mflow.__file__.startswith(sys.argv[1]), mflow.__file__
a, b = mflow.open(0), mflow.open("0")
os.write(a, b"hello")
mflow.shutdown(a)
print(os.read(b, 16).decode(), os.read(b, 16) == b"")
os.close(a)
os.close(b)' "$py") || fail "the staged Python package: $got" || return
	echo "python: $got"
	[ "$got" = "hello True" ] || fail "python printed '$got'" || return
	got=$(MFLOW_CONSOLE=/dev/${MOD}0 "$stage/ocaml-example") ||
		fail "the OCaml example exited $?: $got" || return
	echo "ocaml: $got"
	[ "$got" = "$(printf 'echoed 1048576 bytes\nhandshake done')" ] ||
		fail "the OCaml example printed '$got'"
}

# With no build tree, make uninstall still removes every file; the module
# goes from the running kernel's release, which on the host that staged
# it was not this one, so that one file stays.
make_uninstall_without_headers() {
	local stage got

	stage=$(stage_dir) || fail "no staged install for $KVER" || return
	got=$(grep -v "/modules\." "$stage/uninstalled-noheaders.txt")
	echo "${got:-nothing}"
	[ -z "$(echo "$got" | grep -v "^\./lib/modules/$KVER/\(updates\|extra\)/mflow\.ko")" ] ||
		fail "left after make uninstall without headers: $got"
}

make_sign_throwaway_key_then_load() {
	local stage ko signer

	stage=$(stage_dir) || fail "no staged install for $KVER" || return
	ko=$stage/signed/mflow.ko
	cat "$stage/sign.log"
	signer=$(modinfo -F signer "$ko")
	[ "$signer" = "mflow throwaway test key" ] ||
		fail "modinfo signer: '$signer'" || return
	modinfo "$ko" | grep -E '^(signer|sig_key|sig_hashalgo):'
	grep -q "give KEY=" "$stage/sign-nokey.log" ||
		fail "make sign without a key: $(cat "$stage/sign-nokey.log")" || return
	rmmod $MOD || return
	insmod "$ko" || fail "the signed module does not load" || return
	"$HERE/mflowctl" list | head -n 2
	[ -c /dev/${MOD}0 ] || fail "no /dev/${MOD}0" || return
	back_to_test_module
}

modinfo_documents_every_parameter() {
	local stage p desc n=0

	stage=$(stage_dir) || fail "no staged install for $KVER" || return
	for p in "/sys/module/$MOD/parameters"/*; do
		p=${p##*/}
		desc=$(modinfo -F parm "$stage/signed/mflow.ko" |
			sed -n "s/^$p:\(.*\)/\1/p")
		echo "$p:$desc"
		[ -n "$desc" ] || fail "modinfo does not document $p" || return
		n=$((n + 1))
	done
	[ "$n" -ge 2 ] || fail "only $n parameters"
}

make_without_kdir_says_what_to_install() {
	cat "$MFLOW_STAGE_DIR/no-kdir.log"
	grep -q "install linux-headers-" "$MFLOW_STAGE_DIR/no-kdir.log" ||
		fail "no headers advice" || return
	grep -q "KDIR=" "$MFLOW_STAGE_DIR/no-kdir.log" || fail "no KDIR advice"
}

need_root
if [ ! -f "$KDIR/Makefile" ]; then
	skip_suite "no headers for $KVER in $KDIR (not a Debian stock kernel)"
fi
if [ -z "${MFLOW_KO:-}" ] || [ -z "${MFLOW_SRC:-}" ] ||
	[ -z "${MFLOW_STAGE_DIR:-}" ]; then
	skip_suite "needs MFLOW_KO and mflow_paths.env"
fi
trap 'rm -rf "$WORK"' EXIT

echo "1..7"
run_test staged_install_file_list
run_test staged_libmflow_builds_and_runs
run_test staged_bindings_work
run_test make_uninstall_without_headers
run_test make_sign_throwaway_key_then_load
run_test modinfo_documents_every_parameter
run_test make_without_kdir_says_what_to_install
echo "# $((ntest - nfail)) / $ntest tests passed"
[ "$nfail" = 0 ]
