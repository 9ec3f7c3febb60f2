#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo, as a user runs it (scripts/demo), inside the test VM:
#  - the VM half: `scripts/demo --guest KO` loads the module, runs
#    tools/mflow_demo on /dev/mflow0 (both directions, a half-close drained
#    then EOF, the close handshake on both sides) and unloads it;
#  - the host half, on a machine that can load modules (root, the running
#    kernel's headers): scripts/demo builds mflow there, loads it and runs
#    the same demo, without installing the VM tooling.
# Needs root, mflow loaded from MFLOW_KO with idle consoles, and the
# kernel's headers in /usr/src for the host half (Debian's stock kernels).
# The host half builds mflow in the VM (minutes under emulation): with
# MFLOW_DEMO_HOST=0 it skips, saying so; make check runs it with the DKMS
# suite (scripts/check, dkms_decide).
# Leaves mflow loaded from MFLOW_KO with its defaults.
# mflow-timeout: 600

set -u

HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tap.sh
. "$HERE/tap.sh"
build_suite_setup demo

# demo_said LOG: the demo's every step, with its data, is in LOG. The two
# messages in flight before the half-close may come in one read or two:
# what B received between the half-close and EOF, joined, is both.
demo_said() {
	local line got

	for line in \
		'[B] received "hello B, this is A" (18 bytes)' \
		'[A] received "hello A, this is B" (18 bytes)' \
		'[B] read EOF: the peer shut its write side and all is drained' \
		"[A] received \"B can still talk after A's half-close\" (37 bytes)" \
		'[A] MFLOW_IOC_CLOSE returned 0 after' \
		'[B] MFLOW_IOC_CLOSE returned 0 after' \
		'[A] read EOF: the peer shut its write side and all is drained' \
		'read 55 bytes in 2 calls, wrote 40 bytes in 3 calls' \
		'demo done: both directions, half-close with drain then EOF, close handshake on both sides'; do
		grep -qF -- "$line" "$1" || fail "the demo did not say: $line" ||
			return
	done
	grep -qE '\[B\] console [0-9]+ endpoint 1 connection [0-9]+: read 40 bytes in [23] calls, wrote 55 bytes in 2 calls' "$1" ||
		fail "B's counts are not 40 bytes read, 55 written" || return
	got=$(awk '/^-- half-close/ { on = 1; next }
		on && /\[B\] read EOF/ { exit }
		on && /\[B\] received "/ {
			sub(/^.*\[B\] received "/, ""); sub(/" \([0-9]+ bytes\)$/, "")
			printf "%s", $0
		}' "$1")
	[ "$got" = "in flight 1in flight 2" ] ||
		fail "B received '$got' between the half-close and EOF"
}

make_demo_guest_half_talks_and_unloads() {
	local log=$WORK/guest.log

	mkdir -p "$WORK/g/tools"
	cp "$HERE/mflow_demo" "$WORK/g/tools/" || return
	rmmod $MOD || fail "cannot unload the test module" || return
	MFLOW_OUT=$WORK/g "$MFLOW_SRC/scripts/demo" --guest "$MFLOW_KO" \
		>"$log" 2>&1
	rc=$?
	cat "$log"
	[ "$rc" = 0 ] || fail "scripts/demo --guest exited $rc" || return
	demo_said "$log" || return
	[ ! -d /sys/module/$MOD ] || fail "the demo left $MOD loaded" || return
	back_to_test_module || fail "cannot load $MFLOW_KO again"
}

make_demo_on_a_machine_that_loads_modules() {
	local log=$WORK/host.log rc

	[ -f "$KDIR/Makefile" ] ||
		{ echo "SKIP: no headers for $KVER in $KDIR"; return 4; }
	if [ "${MFLOW_DEMO_HOST:-1}" = 0 ]; then
		echo "SKIP: MFLOW_DEMO_HOST=0: the host half of make demo runs beside the DKMS suite"
		return 4
	fi
	rmmod $MOD || fail "cannot unload the test module" || return
	MFLOW_OUT=$WORK/h KDIR=$KDIR "$MFLOW_SRC/scripts/demo" >"$log" 2>&1
	rc=$?
	cat "$log"
	[ "$rc" = 0 ] || fail "make demo exited $rc" || return
	grep -q "loading mflow on this machine" "$log" ||
		fail "the demo did not use this machine" || return
	! grep -q "VM tooling\|booting" "$log" ||
		fail "the demo went to a VM on a machine that can load modules" ||
		return
	[ -f "$WORK/h/build/host/mflow.ko" ] ||
		fail "no mflow.ko built in $WORK/h/build/host" || return
	demo_said "$log" || return
	[ ! -d /sys/module/$MOD ] || fail "the demo left $MOD loaded" || return
	back_to_test_module || fail "cannot load $MFLOW_KO again"
}

need_root
if [ -z "${MFLOW_KO:-}" ] || [ -z "${MFLOW_SRC:-}" ]; then
	skip_suite "needs MFLOW_KO and mflow_paths.env"
fi
trap 'rm -rf "$WORK"; [ -d /sys/module/$MOD ] || insmod "$MFLOW_KO"' EXIT

echo "1..2"
run_test make_demo_guest_half_talks_and_unloads
run_test make_demo_on_a_machine_that_loads_modules
echo "# $((ntest - nfail)) / $ntest tests passed"
[ "$nfail" = 0 ]
