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

# run_test NAME: run the shell function NAME, report ok / not ok.
run_test() {
	local name=$1 out rc

	ntest=$((ntest + 1))
	out=$("$name" 2>&1)
	rc=$?
	[ -n "$out" ] && diag "$out"
	case $rc in
	0) echo "ok $ntest $name" ;;
	4) echo "ok $ntest $name # SKIP" ;;
	*) echo "not ok $ntest $name"; nfail=$((nfail + 1)) ;;
	esac
}

fail() {
	echo "$*"
	return 1
}
