# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# TAP helpers for mflow's shell suites; sourced, never run.

ntest=0
nfail=0

# diag TEXT: TEXT as TAP diagnostics, one "# " line a line.
diag() {
	local line

	while IFS= read -r line; do
		echo "# $line"
	done <<<"$*"
}

# run_test NAME: run the shell function NAME, report ok / not ok. A test
# that skips returns 4 after printing "SKIP: REASON"; the last such line
# is the TAP skip's reason.
run_test() {
	local name=$1 out rc why

	ntest=$((ntest + 1))
	out=$("$name" 2>&1)
	rc=$?
	[ -n "$out" ] && diag "$out"
	case $rc in
	0) echo "ok $ntest $name" ;;
	4)
		why=$(sed -n 's/^SKIP: //p' <<<"$out" | tail -n 1)
		echo "ok $ntest $name # SKIP${why:+ $why}"
		;;
	*) echo "not ok $ntest $name"; nfail=$((nfail + 1)) ;;
	esac
}

# skip_suite REASON: the whole suite skips ("1..0 # SKIP REASON", exit 4);
# scripts/expected-skips says on which kernels that is expected.
skip_suite() {
	echo "1..0 # SKIP $*"
	exit 4
}

# need_root: a suite that needs root skips without it.
need_root() {
	[ "$(id -u)" = 0 ] || skip_suite "needs root"
}

fail() {
	echo "$*"
	return 1
}

# build_suite_setup NAME: for the suites that install or build mflow
# (mflow_install.sh, mflow_dkms.sh, mflow_demo.sh), with HERE set to the
# suite's directory: MOD, the paths of mflow_paths.env (MFLOW_SRC, ...),
# the running kernel's release KVER and its headers KDIR in /usr/src, and
# a scratch directory WORK (/tmp/mflow_NAME.XXXXXX).
# shellcheck disable=SC2034 # the suites use them
build_suite_setup() {
	MOD=mflow
	# shellcheck source=/dev/null
	. "$HERE/mflow_paths.env"
	KVER=$(uname -r)
	KDIR=/usr/src/linux-headers-$KVER
	WORK=$(mktemp -d "/tmp/mflow_$1.XXXXXX")
}

# back_to_test_module: mflow loaded from MFLOW_KO with its defaults; new
# nodes, so udev applies the rules in force now.
back_to_test_module() {
	rmmod "$MOD" 2>/dev/null
	insmod "$MFLOW_KO" && udevadm settle
}
