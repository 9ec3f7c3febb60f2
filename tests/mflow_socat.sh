#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# socat, a real level-triggered program, bridging a console (R8, R11):
# endpoint 0 has shut its write side (a half-close) and socat copies what
# endpoint 1 sends into a file, with its fd non-blocking as an event loop
# keeps it. Endpoint 1 stays quiet for 2 s: socat must sleep through it
# (its CPU time over the window, from /proc/PID/stat, under 5% of it),
# then copy the bytes that come, byte-exact, and end at EOF. Needs root,
# mflow loaded with /dev/mflow${MFLOW_CONSOLE:-0} idle, socat and python3.

. "$(dirname "$0")/tap.sh"

dev=/dev/mflow${MFLOW_CONSOLE:-0}
need_root
command -v socat >/dev/null || skip_suite "socat is not installed"

# The half-close ioctl on fd 3: MFLOW_IOC_SHUTDOWN = _IOW(0xE3, 1, __u32),
# how = MFLOW_SHUT_WR (1).
shut_wr_fd3() {
	python3 -c 'import fcntl, struct
fcntl.ioctl(3, (1 << 30) | (4 << 16) | (0xE3 << 8) | 1, struct.pack("I", 1))'
}

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

R11_socat_sleeps_through_half_closed_quiet_peer() {
	local out pid t0 t1 ticks hz window=2 rc=0

	out=$(mktemp)
	exec 3<>"$dev" 4<>"$dev" || return 1
	shut_wr_fd3 || { exec 3>&- 4>&-; fail "MFLOW_IOC_SHUTDOWN failed"; return; }
	socat -u FD:3,nonblock "OPEN:$out,wronly,trunc" 4>&- &
	pid=$!
	# socat is in its loop once it has the output file open.
	for _ in $(seq 1 500); do
		ls -l "/proc/$pid/fd" 2>/dev/null | grep -q -- "-> $out\$" && break
		sleep 0.02
	done
	t0=$(cpu_ticks "$pid")
	sleep "$window"
	t1=$(cpu_ticks "$pid")
	hz=$(getconf CLK_TCK)
	ticks=$((t1 - t0))
	echo "socat used $ticks ticks of $((window * hz)) in ${window} s of quiet"
	if [ $((ticks * 100)) -ge $((5 * window * hz)) ]; then
		echo "socat spun: $((ticks * 100 / (window * hz)))% of a CPU"
		rc=1
	fi
	printf 'hello, socat' >&4
	exec 4>&-
	if ! timeout 20 tail --pid="$pid" -f /dev/null; then
		echo "socat did not end at EOF"
		kill "$pid" 2>/dev/null
		rc=1
	fi
	wait "$pid" || { echo "socat exited $?"; rc=1; }
	exec 3>&-
	[ "$(cat "$out")" = "hello, socat" ] ||
		{ echo "socat copied '$(cat "$out")'"; rc=1; }
	rm -f "$out"
	return $rc
}

echo "1..1"
run_test R11_socat_sleeps_through_half_closed_quiet_peer
[ "$nfail" = 0 ]
