#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mflow as a module and from the shell, with TAP output: lifetime (R15:
# no unload while a console is open, a console stays live until both
# endpoints detached), the sysfs attributes, and consoles used by plain
# shell redirections (R1, R3, R4, R10).
#
# Needs root and mflow loaded with default parameters. Runs after every
# other suite that uses consoles (only mflow_params.sh, which reloads the
# module, comes later): it also checks that the suites before it left every
# console idle. It never unloads the module.

set -u

MOD=mflow
CLASS=/sys/class/mflow
SHELL_CON=2		# console for the shell pipelines
HOLD_CON=3		# console held open while trying to unload

# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"

state_of() {
	cat "$CLASS/$MOD$1/state"
}

# expect_state N WANT: console N's sysfs state is WANT.
expect_state() {
	local got

	got=$(state_of "$1") || fail "no state for console $1" || return
	[ "$got" = "$2" ] || fail "console $1: state '$got', want '$2'"
}

# Attach both endpoints of console $HOLD_CON on fds $ep0 and $ep1.
hold_open() {
	exec {ep0}<>"/dev/$MOD$HOLD_CON" || return
	exec {ep1}<>"/dev/$MOD$HOLD_CON" || return
}

release() {
	exec {ep0}>&- {ep1}>&-
}

R15_all_consoles_idle_after_earlier_suites() {
	local d bad=0

	for d in "$CLASS"/$MOD*; do
		[ "$(cat "$d/state")" = idle ] && continue
		echo "${d##*/}: state '$(cat "$d/state")', left in use"
		bad=1
	done
	return $bad
}

# readable_by_nobody FILE...: "FILE yes" or "FILE no" a line, for whether
# user nobody can read each FILE (one process for all: forks are slow
# under emulation).
readable_by_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups sh -c '
		for f; do
			if { read -r _ <"$f"; } 2>/dev/null; then
				echo "$f yes"
			else
				echo "$f no"
			fi
		done' sh "$@"
}

# sysfs_check DIR MODE ATTR=PATTERN...: each DIR/ATTR exists with MODE,
# its value matches the extended regex PATTERN, and user nobody can read
# it exactly when MODE lets others read.
sysfs_check() {
	local d=$1 want=$2 arg a f mode v line names=()
	shift 2

	for arg; do
		a=${arg%%=*}
		names+=("$a")
		f=$d/$a
		[ -f "$f" ] || fail "$f missing" || return
		read -r v <"$f" || fail "$f: unreadable by root" || return
		[[ $v =~ ^(${arg#*=})$ ]] || fail "$f: value '$v'" || return
	done
	while read -r mode f; do
		[ "$mode" = "$want" ] || fail "$f: mode $mode, want $want" ||
			return
	done < <(cd "$d" && stat -c '%a %n' "${names[@]}")
	command -v setpriv >/dev/null || return 0
	while read -r f line; do
		case $want:$line in
		444:yes | 400:no) ;;
		*) fail "$f: mode $want, readable by nobody: $line"; return ;;
		esac
	done < <(cd "$d" && readable_by_nobody "${names[@]}")
}

# Every attribute: present, its mode, a sane value. The per-endpoint
# counters are root-only (per-call counters would leak keystroke timing);
# the rest is world-readable. Idle consoles show zeros, a connected one
# its traffic.
sysfs_attributes_modes_and_values() {
	local n d ep f counters=() fifo

	read -r fifo <"/sys/module/$MOD/parameters/fifo_size"
	for ep in 0 1; do
		for f in read_bytes read_ops write_bytes write_ops; do
			counters+=("ep${ep}_$f=[0-9]+")
		done
	done
	for n in 0 1 2 3; do
		[ -c "/dev/$MOD$n" ] || fail "/dev/$MOD$n: no char device" ||
			return
		d=$CLASS/$MOD$n
		sysfs_check "$d" 444 'state=idle|connected' 'attached=[012]' \
			'connection=[0-9]+' "fifo_size=$fifo" || return
		sysfs_check "$d" 400 "${counters[@]}" || return
		set -- "$d"/ep[01]_*
		[ $# = 8 ] || fail "$d: $# endpoint counters, want 8" || return
	done

	hold_open || return
	printf abc >&"$ep0"
	d=$CLASS/$MOD$HOLD_CON
	if ! sysfs_check "$d" 444 state=connected attached=2 ||
		! sysfs_check "$d" 400 ep0_write_bytes=3 ep0_write_ops=1 \
			ep1_read_bytes=0; then
		release
		return 1
	fi
	release
	sysfs_check "$d" 444 state=idle attached=0 &&
		sysfs_check "$d" 400 ep0_write_bytes=0
}

# The console stays connected until both endpoints have detached, or,
# when endpoint 1 never came, while endpoint 0 left bytes for it; then
# it is idle and the next connection gets the next number.
R15_console_lives_until_both_detached() {
	local c1 c2

	expect_state $HOLD_CON idle || return
	hold_open || return
	expect_state $HOLD_CON connected || { release; return 1; }
	c1=$(cat "$CLASS/$MOD$HOLD_CON/connection")
	exec {ep0}>&-
	expect_state $HOLD_CON connected || { exec {ep1}>&-; return 1; }
	exec {ep1}>&-
	expect_state $HOLD_CON idle || return

	# Endpoint 0 alone, leaving nothing for endpoint 1: idle at once.
	exec {ep0}<>"/dev/$MOD$HOLD_CON" || return
	exec {ep0}>&-
	expect_state $HOLD_CON idle || return
	c2=$(cat "$CLASS/$MOD$HOLD_CON/connection")
	[ "$c2" -gt "$c1" ] 2>/dev/null ||
		echo "connection '$c1' then '$c2': not counting up"
	# With bytes left for endpoint 1, the connection lives until it came.
	exec {ep0}<>"/dev/$MOD$HOLD_CON" || return
	printf x >&$ep0
	exec {ep0}>&-
	expect_state $HOLD_CON connected || return
	exec {ep1}<>"/dev/$MOD$HOLD_CON" || return
	exec {ep1}>&-
	expect_state $HOLD_CON idle || return
	[ "$c2" -gt "$c1" ] 2>/dev/null
}

# While a console is open the module cannot go; the reference it holds
# is dropped when both endpoints close.
R15_no_unload_while_open() {
	local refcnt=/sys/module/$MOD/refcnt base held c out rc=0

	command -v rmmod >/dev/null || { echo "no rmmod"; return 4; }
	[ -d "/sys/module/$MOD" ] || fail "$MOD is not a loaded module" ||
		return
	[ -r "$refcnt" ] && base=$(cat "$refcnt")
	hold_open || return
	[ -r "$refcnt" ] && held=$(cat "$refcnt")
	if out=$(rmmod "$MOD" 2>&1); then
		release
		fail "rmmod $MOD succeeded with /dev/$MOD$HOLD_CON open"
		return
	fi
	echo "rmmod while open: $out"
	[ -d "/sys/module/$MOD" ] || { release; fail "$MOD is gone"; return; }
	printf x >&"$ep0"
	IFS= read -r -t 5 -n 1 -u "$ep1" c || rc=1
	[ "${c:-}" = x ] || { echo "console unusable after rmmod"; rc=1; }
	release
	if [ -n "${base:-}" ]; then
		[ "$held" -gt "$base" ] ||
			{ echo "refcnt $base, $held while open"; rc=1; }
		[ "$(cat "$refcnt")" = "$base" ] ||
			{ echo "refcnt $(cat "$refcnt") after close, was $base"; rc=1; }
	fi
	expect_state $HOLD_CON idle || rc=1
	return $rc
}

# A third open fails with "Device or resource busy".
R1_shell_third_open_busy() {
	local err

	hold_open || return
	err=$( (exec 9<>"/dev/$MOD$HOLD_CON") 2>&1) &&
		{ release; fail "third open succeeded"; return; }
	release
	case $err in
	*"busy"*) ;;
	*) fail "third open: '$err'" ;;
	esac
}

# printf attaches endpoint 0, writes and detaches; cat then attaches
# endpoint 1 of the same connection, reads "hi" and gets EOF.
R1_R4_R10_shell_printf_then_cat() {
	local dev=/dev/$MOD$SHELL_CON out

	out=$(timeout 20 sh -c "printf hi > $dev; cat $dev") ||
		fail "pipeline failed or hung (status $?)" || return
	[ "$out" = hi ] || fail "cat printed '$out'" || return
	expect_state $SHELL_CON idle
}

# cat blocks until the writer sends, whichever opens first, and ends
# when the writer detaches.
R3_R4_shell_cat_waits_for_writer() {
	local dev=/dev/$MOD$SHELL_CON out

	out=$(timeout 20 sh -c \
		"{ sleep 0.3; printf a; sleep 0.3; printf b; } > $dev & cat $dev; wait") ||
		fail "pipeline failed or hung (status $?)" || return
	[ "$out" = ab ] || fail "cat printed '$out'" || return
	expect_state $SHELL_CON idle
}

echo "TAP version 13"
if [ ! -c "/dev/${MOD}0" ] || [ ! -d "$CLASS" ]; then
	skip_suite "$MOD not loaded"
fi
need_root

echo "1..7"
run_test R15_all_consoles_idle_after_earlier_suites
run_test sysfs_attributes_modes_and_values
run_test R15_console_lives_until_both_detached
run_test R15_no_unload_while_open
run_test R1_shell_third_open_busy
run_test R1_R4_R10_shell_printf_then_cat
run_test R3_R4_shell_cat_waits_for_writer
echo "# $((ntest - nfail)) / $ntest tests passed"
[ "$nfail" = 0 ]
