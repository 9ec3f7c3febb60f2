#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mflow's module parameters, with TAP output: unloading once every
# console is idle (R15), out-of-range or malformed values refused at load
# with a message naming the allowed range and nothing left behind (R14),
# good values honoured (fifo_size rounded up to a power of two), the
# stress suite on the smallest and largest fifos, and the module loaded
# again with its defaults. With --scale (as mflow_scale.sh, a suite of its
# own for the time it takes): 4096 consoles all connected, a 64 MiB fifo
# full, memory back afterwards, and MFLOW_CYCLES load/use/unload cycles
# (200 by default).
#
# Needs root, mflow loaded with idle consoles and MFLOW_KO, the absolute
# path of the mflow.ko that was loaded (scripts/guest-run exports it).
# Runs last: it unloads the module. Whatever happens, it exits with
# mflow loaded from MFLOW_KO with default parameters, so the runner can
# still unload it.

set -u

MOD=mflow
CLASS=/sys/class/mflow
SYSMOD=/sys/module/$MOD
DEF_CONSOLES=4
DEF_FIFO=262144

HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=tap.sh
. "$HERE/tap.sh"

# kmsg_mark: the time stamp of the last kernel log line, to see what
# comes after it (dmesg -c would take the log from the runner's check).
kmsg_mark() {
	dmesg | tail -n 1 | sed -n 's/^\[ *\([0-9]*\.[0-9]*\)\].*/\1/p'
}

# kmsg_since MARK: the kernel log lines stamped after MARK.
kmsg_since() {
	dmesg | awk -v t0="${1:-0}" '
		match($0, /^\[ *[0-9]+\.[0-9]+\]/) {
			t = substr($0, RSTART + 1, RLENGTH - 2) + 0
			if (t > t0 + 0)
				print
		}'
}

loaded() {
	[ -d "$SYSMOD" ]
}

param() {
	cat "$SYSMOD/parameters/$1" 2>/dev/null
}

# ensure_default: mflow loaded from MFLOW_KO with default parameters.
ensure_default() {
	if loaded && [ "$(param consoles)" = $DEF_CONSOLES ] &&
		[ "$(param fifo_size)" = $DEF_FIFO ]; then
		return 0
	fi
	if loaded && ! rmmod $MOD; then
		echo "# cannot unload $MOD to put the defaults back"
		return 1
	fi
	if ! insmod "$MFLOW_KO"; then
		echo "# cannot load $MFLOW_KO with its defaults"
		return 1
	fi
}

# Everything idle by now: the module goes, and takes its nodes along.
R15_params_rmmod_when_idle() {
	local d out rc=0

	loaded || fail "$MOD is not loaded" || return
	for d in "$CLASS"/"$MOD"*; do
		[ "$(cat "$d/state")" = idle ] && continue
		echo "${d##*/}: '$(cat "$d/state")', left in use"
		rc=1
	done
	out=$(rmmod $MOD 2>&1) || fail "rmmod $MOD: $out" || return
	! loaded || fail "$SYSMOD still there" || return
	[ ! -e "/dev/${MOD}0" ] || fail "/dev/${MOD}0 still there" || return
	[ ! -e "$CLASS" ] || fail "$CLASS still there" || return
	return $rc
}

# refused PARAM=VALUE REGEX: insmod with it fails with EINVAL, the kernel
# log gains a line matching REGEX, and no trace of the module is left.
refused() {
	local mark out rc=0 log

	if loaded; then
		echo "$MOD is loaded: cannot try $1"
		return 1
	fi
	mark=$(kmsg_mark)
	if out=$(insmod "$MFLOW_KO" "$1" 2>&1); then
		echo "insmod $MOD $1 succeeded"
		rmmod $MOD
		return 1
	fi
	echo "insmod $1: $out"
	case $out in
	*"Invalid parameters"* | *"Invalid argument"*) ;;
	*) echo "want EINVAL (Invalid parameters)"; rc=1 ;;
	esac
	log=$(kmsg_since "$mark")
	if ! grep -Eq "$2" <<<"$log"; then
		echo "no kernel message matching '$2'; got:"
		echo "$log"
		rc=1
	fi
	grep -E "$2" <<<"$log" | sed 's/^/kernel: /'
	loaded && { echo "$SYSMOD exists"; rc=1; }
	[ -e "/dev/${MOD}0" ] && { echo "/dev/${MOD}0 exists"; rc=1; }
	[ -e "$CLASS" ] && { echo "$CLASS exists"; rc=1; }
	return $rc
}

# The messages of mflow_check_params(), for the value VALUE.
range_consoles() {
	echo "mflow: consoles=$1 is out of range: allowed 1\.\.4096\$"
}

range_fifo() {
	echo "mflow: fifo_size=$1 is out of range: allowed 4096\.\.67108864 bytes\$"
}

R14_params_consoles_0_refused() {
	refused consoles=0 "$(range_consoles 0)"
}

R14_params_consoles_4097_refused() {
	refused consoles=4097 "$(range_consoles 4097)"
}

R14_params_fifo_size_0_refused() {
	refused fifo_size=0 "$(range_fifo 0)"
}

R14_params_fifo_size_4095_refused() {
	refused fifo_size=4095 "$(range_fifo 4095)"
}

R14_params_fifo_size_67108865_refused() {
	refused fifo_size=67108865 "$(range_fifo 67108865)"
}

# Not a number: the kernel's parameter parser refuses it before init.
R14_params_consoles_abc_refused() {
	refused consoles=abc "mflow: .abc' invalid for parameter .consoles'"
}

# consoles=2 fifo_size=5000: two nodes, 8192-byte fifos, and they work.
R15_params_good_values_load() {
	local mark out f v got a b rc=0

	mark=$(kmsg_mark)
	out=$(insmod "$MFLOW_KO" consoles=2 fifo_size=5000 2>&1) ||
		fail "insmod consoles=2 fifo_size=5000: $out" || return
	for f in "/dev/${MOD}0" "/dev/${MOD}1"; do
		[ -c "$f" ] || { echo "$f: no char device"; rc=1; }
	done
	[ ! -e "/dev/${MOD}2" ] || { echo "/dev/${MOD}2 exists"; rc=1; }
	[ ! -e "$CLASS/${MOD}2" ] || { echo "$CLASS/${MOD}2 exists"; rc=1; }
	for f in "$SYSMOD/parameters/consoles 2" \
		"$SYSMOD/parameters/fifo_size 8192" \
		"$CLASS/${MOD}0/fifo_size 8192" "$CLASS/${MOD}1/fifo_size 8192"; do
		v=$(cat "${f% *}" 2>&1)
		[ "$v" = "${f##* }" ] ||
			{ echo "${f% *}: '$v', want ${f##* }"; rc=1; }
	done
	kmsg_since "$mark" | grep -q "mflow: 2 consoles, 8192 bytes per direction" ||
		{ echo "no 'mflow: 2 consoles, 8192 bytes per direction' line"; rc=1; }

	exec {a}<>"/dev/${MOD}1" || return
	exec {b}<>"/dev/${MOD}1" || { exec {a}>&-; return 1; }
	printf 'hello' >&"$a"
	got=
	IFS= read -r -t 5 -N 5 -u "$b" got
	[ "$got" = hello ] || { echo "read back '$got', want 'hello'"; rc=1; }
	printf 'back' >&"$b"
	got=
	IFS= read -r -t 5 -N 4 -u "$a" got
	[ "$got" = back ] || { echo "read back '$got', want 'back'"; rc=1; }
	exec {a}>&- {b}>&-
	[ "$(cat "$CLASS/${MOD}1/state")" = idle ] ||
		{ echo "${MOD}1 not idle after both closed"; rc=1; }
	return $rc
}

# reload PARAM=VALUE...: mflow loaded again, with these parameters only.
reload() {
	local out

	if loaded; then
		out=$(rmmod $MOD 2>&1) || fail "rmmod $MOD: $out" || return
	fi
	out=$(insmod "$MFLOW_KO" "$@" 2>&1) || fail "insmod $*: $out"
}

# The kernel's own unreclaimable memory in KiB (SUnreclaim + VmallocUsed,
# where consoles, fifos and files live), once caches are dropped, frees
# have settled and the slab caches are shrunk.
mem_kib() {
	local f

	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 0.3
	# Give the slab caches' empty pages back, as a leak would not be;
	# once each (the links are the aliases of merged caches).
	for f in /sys/kernel/slab/*; do
		[ -L "$f" ] || echo 1 >"$f/shrink"
	done 2>/dev/null
	awk '/^(SUnreclaim|VmallocUsed):/ { kib += $2 } END { print kib }' \
		/proc/meminfo
}

# The debug kernel (KASAN, kmemleak, lockdep): under emulation a load or
# an unload takes seconds there, so the heavy tests scale down (and say
# so); the stock kernels run them in full.
debug_kernel() {
	[ -e /sys/kernel/debug/kmemleak ] ||
		dmesg | grep -q KernelAddressSanitizer
}

# How far "back where it was" may be, in KiB: KASAN keeps freed objects
# in its quarantine.
mem_slack_kib() {
	if debug_kernel; then
		echo 98304
	else
		echo 8192
	fi
}

# How far "back where it was" may be after a 64 MiB fifo was freed, in
# KiB: below the fifo itself on every kernel (it is vmalloc'ed, not held
# in KASAN's slab quarantine), so that leaking it whole fails.
fifo_slack_kib() {
	local s
	s=$(mem_slack_kib)
	echo $((s < 32768 ? s : 32768))
}

# near A B KIB: A and B differ by at most KIB.
near() {
	local d=$(($1 - $2))

	[ "${d#-}" -le "$3" ]
}

# stress_at FIFO: the main variants of the stress suite on fifos of FIFO
# bytes (4 KiB, 64 MiB), with the figures they print.
stress_at() {
	local out rc

	reload fifo_size="$1" || return
	local variants=(-v two_writers -v lone_writer_1b_to_4x_fifo
		-v duplex_signals_sa_restart)

	debug_kernel && variants=(-v lone_writer_1b_to_4x_fifo)
	out=$(cd "$HERE" && MFLOW_CONSOLE=0 \
		MFLOW_STRESS_SECS="${MFLOW_PARAMS_STRESS_SECS:-3}" \
		MFLOW_STRESS_MIB=16 MFLOW_STRESS_MIN_KIB=256 timeout 120 \
		./mflow_stress "${variants[@]}" 2>&1)
	rc=$?
	grep -E "seed|direction|cut short|Expected|not ok|FAIL" <<<"$out"
	[ "$rc" = 0 ] || fail "mflow_stress at fifo_size=$1: exit $rc"
}

R4_R5_R6_params_stress_fifo_4k() {
	stress_at 4096
}

R4_R5_R6_params_stress_fifo_64m() {
	stress_at 67108864
}

# consoles=4096 (4 KiB fifos) loads; every console connected with a
# message each way and its fifos filled and drained; all closed; memory
# back to where it was, and again after the unload. Prints the memory of
# an idle console and of a connection.
R15_params_scale_4096_consoles() {
	local m0 m1 m2 out figures c f rc=0 n=4096

	debug_kernel && n=${MFLOW_SCALE_CONSOLES:-256}
	[ "$n" = 4096 ] || echo "debug kernel: $n consoles, not 4096"
	loaded && { rmmod $MOD || return; }
	m0=$(mem_kib)
	reload consoles="$n" fifo_size=4096 || return
	m1=$(mem_kib)
	echo "idle consoles: $(((m1 - m0) * 1024 / n)) bytes each"
	out=$("$HERE/mflow_scale" "$n" 1) || rc=1
	grep '^#' <<<"$out" | sed 's/^# //'
	figures=$(tail -n 1 <<<"$out")
	read -r _ _ m2 <<<"$figures"
	for f in "$CLASS"/"$MOD"*/state; do
		read -r c <"$f"
		[ "$c" = idle ] || { echo "$f: $c, not idle"; rc=1; break; }
	done
	c=$(awk '{ print $2 }' <<<"$figures")
	near "$m2" "$m1" "$(mem_slack_kib)" ||
		{ echo "after closing: $m2 KiB, idle was $m1 KiB"; rc=1; }
	[ -n "$c" ] && echo "connections: $(((c - m1) * 1024 / n)) bytes each"
	rmmod $MOD || return
	# Deferred frees (RCU, lazy vfree) of 4096 devices take a while.
	for f in 1 2 3 4 5 6; do
		m2=$(mem_kib)
		near "$m2" "$m0" "$(mem_slack_kib)" && break
		sleep 2
	done
	near "$m2" "$m0" "$(mem_slack_kib)" ||
		{ echo "after unload: $m2 KiB, was $m0 KiB"; rc=1; }
	return $rc
}

# A 64 MiB fifo, filled both ways: 128 MiB while connected, back after.
R15_params_64m_fifo_attached() {
	local out figures b c a

	reload consoles=1 fifo_size=67108864 || return
	out=$("$HERE/mflow_scale" 1 1) ||
		fail "64 MiB fifos: $(grep '^#' <<<"$out")" || return
	figures=$(tail -n 1 <<<"$out")
	read -r b c a <<<"$figures"
	echo "connected with 64 MiB fifos full: $(((c - b) / 1024)) MiB held"
	near "$a" "$b" "$(fifo_slack_kib)" ||
		fail "after closing: $a KiB, was $b KiB"
}

# Load, use and unload MFLOW_CYCLES times (200 by default, 10 on the
# debug kernel), or as many as fit in MFLOW_CYCLES_SECS (90): under
# emulation on a busy machine one cycle can take seconds, and the suite
# has 300 s in all. It says how many it ran. The runner's kmemleak scan
# after the suites checks that nothing stayed behind.
R15_params_load_use_unload_cycles() {
	local i n=${MFLOW_CYCLES:-200} a b got t0=$SECONDS
	local secs=${MFLOW_CYCLES_SECS:-90}

	debug_kernel && n=${MFLOW_CYCLES:-10}
	loaded && { rmmod $MOD || return; }
	for ((i = 0; i < n && SECONDS - t0 < secs; i++)); do
		insmod "$MFLOW_KO" consoles=1 fifo_size=4096 ||
			fail "cycle $i: insmod" || return
		exec {a}<>"/dev/${MOD}0" {b}<>"/dev/${MOD}0" ||
			fail "cycle $i: open" || return
		printf 'c%d' "$i" >&"$a"
		got=
		IFS= read -r -t 5 -N $((1 + ${#i})) -u "$b" got
		exec {a}>&- {b}>&-
		[ "$got" = "c$i" ] || fail "cycle $i: read '$got'" || return
		rmmod $MOD || fail "cycle $i: rmmod" || return
	done
	echo "$i of $n cycles in $((SECONDS - t0)) s"
	[ "$i" -ge 10 ] || [ "$i" = "$n" ] || fail "only $i cycles"
}

R15_params_rmmod_after_use() {
	local out

	loaded || fail "$MOD is not loaded" || return
	out=$(rmmod $MOD 2>&1) || fail "rmmod $MOD: $out" || return
	! loaded || fail "$SYSMOD still there" || return
	[ ! -e "/dev/${MOD}0" ] || fail "/dev/${MOD}0 still there"
}

# Back to the defaults for the runner: 4 consoles of 256 KiB.
R15_params_defaults_reload() {
	local out n

	loaded && { rmmod $MOD || return; }
	out=$(insmod "$MFLOW_KO" 2>&1) || fail "insmod $MFLOW_KO: $out" ||
		return
	[ "$(param consoles)" = $DEF_CONSOLES ] ||
		fail "consoles '$(param consoles)'" || return
	[ "$(param fifo_size)" = $DEF_FIFO ] ||
		fail "fifo_size '$(param fifo_size)'" || return
	for n in 0 1 2 3; do
		[ -c "/dev/$MOD$n" ] || fail "/dev/$MOD$n: no char device" ||
			return
	done
}

echo "TAP version 13"
if [ -z "${MFLOW_KO:-}" ]; then
	skip_suite "MFLOW_KO not set"
fi
need_root
if ! command -v insmod >/dev/null || ! command -v rmmod >/dev/null; then
	skip_suite "no insmod/rmmod"
fi
if [ ! -r "$MFLOW_KO" ]; then
	skip_suite "cannot read MFLOW_KO=$MFLOW_KO"
fi
trap 'ensure_default || exit 1' EXIT

# mflow_scale.sh runs the heavy group on its own, with its own time.
if [ "${1:-}" = --scale ]; then
	echo "1..3"
	run_test R15_params_scale_4096_consoles
	run_test R15_params_64m_fifo_attached
	run_test R15_params_load_use_unload_cycles
	echo "# $((ntest - nfail)) / $ntest tests passed"
	[ "$nfail" = 0 ]
	exit
fi

echo "1..12"
run_test R15_params_rmmod_when_idle
if loaded; then
	# Without the unload nothing below can be tried.
	for t in consoles_0 consoles_4097 fifo_size_0 fifo_size_4095 \
		fifo_size_67108865 consoles_abc; do
		ntest=$((ntest + 1))
		echo "not ok $ntest R14_params_${t}_refused # $MOD still loaded"
		nfail=$((nfail + 1))
	done
else
	run_test R14_params_consoles_0_refused
	run_test R14_params_consoles_4097_refused
	run_test R14_params_fifo_size_0_refused
	run_test R14_params_fifo_size_4095_refused
	run_test R14_params_fifo_size_67108865_refused
	run_test R14_params_consoles_abc_refused
fi
run_test R15_params_good_values_load
run_test R15_params_rmmod_after_use
run_test R4_R5_R6_params_stress_fifo_4k
run_test R4_R5_R6_params_stress_fifo_64m
run_test R15_params_defaults_reload
echo "# $((ntest - nfail)) / $ntest tests passed"
[ "$nfail" = 0 ]
