#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mflowctl from the shell, with TAP output: every command's output and
# exit status, its errors included; the control device through it (R16,
# R17); connect moving 10 MB each way through one console with list
# showing the byte counts; wait --peer waking when a peer opens and trace
# showing a short exchange (R19). The traps a newcomer fell into: an
# empty DEV or name (never a console, R17), names that read as an index
# or a node (refused before the kernel sees them, R17), per-command help,
# one-line option errors, shutdown/close attaching behind the user's
# back, --version for any user, permission hints, strict numbers and
# times, list columns, unchecked standard output, the JSON schema and
# add --wait.
#
# Needs root, mflow loaded with default parameters and its consoles idle,
# and mflowctl next to this script (the test build puts it there). Leaves
# every console idle and the consoles it added removed. The last test
# unloads mflow and loads MFLOW_KO again (skipped without MFLOW_KO).
# In the debug VM it takes 90 s alone and three times that beside other
# VMs, more than the default 300 s:
# mflow-timeout: 900

set -u

MOD=mflow
CLASS=/sys/class/mflow
HERE=$(cd "$(dirname "$0")" && pwd)
CTL=$HERE/mflowctl
VERSION=$(sed -n 's/^MFLOW_VERSION=//p' "$HERE/mflow_paths.env" 2>/dev/null)
WORK=$(mktemp -d /tmp/mflow_ctl_tool.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# shellcheck source=tap.sh
. "$HERE/tap.sh"

# run CMD...: CMD's output (stdout and stderr) in $out, its status in $rc.
run() {
	out=$("$@" 2>&1)
	rc=$?
}

# expect RC CMD...: run mflowctl with the arguments; its status must be RC.
expect() {
	local want=$1

	shift
	run "$CTL" "$@"
	[ "$rc" = "$want" ] ||
		fail "mflowctl $*: exit $rc, want $want; output: $out"
}

# has TEXT: $out contains TEXT.
has() {
	case "$out" in
	*"$1"*) return 0 ;;
	esac
	fail "output lacks '$1': $out"
}

have_control() {
	[ -e /sys/class/misc/mflow-control ]
}

# until_true SECONDS CMD...: run CMD until it succeeds, for at most
# SECONDS. For conditions set by another process (a file's size, a task's
# state); each try is one cheap command.
until_true() {
	local end=$((SECONDS + $1))

	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# attr_is N ATTR VALUE: console N's sysfs ATTR reads VALUE.
attr_is() {
	[ "$(cat "$CLASS/$MOD$1/$2" 2>/dev/null)" = "$3" ]
}

size_is() {
	[ "$(stat -c %s "$1" 2>/dev/null)" = "$2" ]
}

# in_poll PID: the task sleeps in poll(2) (syscall 7 on x86_64).
in_poll() {
	read -r nr _ <"/proc/$1/syscall" 2>/dev/null && [ "$nr" = 7 ]
}

help_names_every_command_and_exit_code() {
	local c

	expect 0 --help || return
	for c in list add del query free info shutdown close wait connect \
		trace "Exit status" "5  no such console" "6  busy" \
		"7  permission denied" "8  timed out" "3  the mflow module"; do
		has "$c" || return
	done
	expect 0 help || return
}

usage_errors_exit_2() {
	expect 2 || return
	expect 2 frobnicate || return
	has "unknown command" || return
	expect 2 list --bogus || return
	expect 2 info || return
	expect 2 shutdown 0 sideways || return
	expect 2 wait --timeout soon 0 || return
	expect 2 add --name "no spaces" || return
	expect 2 add --fifo-size lots || return
}

version_prints_tool_and_module() {
	if have_control; then
		expect 0 --version || return
		has "module: " || return
		has "(ABI " || return
	else
		expect 4 --version || return
		has "without a control device" || return
	fi
	has "mflowctl ${VERSION:-}" || return
}

R17_list_shows_every_console() {
	local n

	expect 0 list || return
	echo "$out"
	has "CONSOLE" || return
	for n in 0 1 2 3; do
		echo "$out" | grep -Eq "^$MOD$n +[^ ]+ +idle +0 " ||
			fail "no idle line for $MOD$n" || return
	done
	expect 0 list --json || return
	python3 -c 'import json, sys
d = json.loads(sys.argv[1])
assert d["json_version"] == 1, d
l = d["consoles"]
assert len(l) >= 4, l
for c in l:
    assert c["state"] == "idle" and c["attached"] == 0, c
    assert c["fifo_size"] == 262144, c
    assert c["bytes_0_to_1"] == 0 and c["bytes_1_to_0"] == 0, c' "$out" ||
		fail "list --json: $out"
}

list_counters_hidden_from_other_users() {
	case "$(stat -c %a $CLASS/${MOD}0/ep0_read_bytes)" in
	400 | 600) ;;
	*)
		echo "SKIP: this module shows the counters to every user"
		return 4
		;;
	esac
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" list
	[ "$rc" = 0 ] || fail "list as nobody: exit $rc: $out" || return
	echo "$out" | grep -Eq "^${MOD}0 .* - +- *$" ||
		fail "counters shown to nobody: $out"
}

info_console_and_endpoint() {
	local fd

	expect 0 info 1 || return
	has "state:       idle" || return
	expect 0 info --json "$MOD"1 || return
	has '"index":1' || return
	exec {fd}<>/dev/${MOD}1
	expect 0 info "fd:$fd" || return
	has "endpoint:    0" || return
	expect 0 info /dev/${MOD}1 || return
	has "state:       connected" || return
	exec {fd}>&-
	# The connection ends once endpoint 1 has come and gone too.
	: <>/dev/${MOD}1
}

no_such_console_exits_5() {
	expect 5 info 999 || return
	has "no console mflow999" || return
	expect 5 info "$MOD"999 || return
	expect 5 info no-such-name || return
	expect 5 info /dev/null || return
	expect 5 wait 999 || return
	expect 5 shutdown fd:0 write </dev/null || return
}

busy_exits_6() {
	local a b

	exec {a}<>/dev/${MOD}1 {b}<>/dev/${MOD}1 || return
	expect 6 connect 1 </dev/null || return
	has "busy" || return
	if have_control; then
		expect 6 del 1 || return
		has "in use" || return
	fi
	exec {a}>&- {b}>&-
}

permission_exits_7() {
	have_control || { echo "SKIP: no control device"; return 4; }
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" add
	[ "$rc" = 7 ] || fail "add as nobody: exit $rc, want 7: $out" || return
	echo "$out" | grep -qi "permission denied" || fail "no reason: $out"
}

timeouts_exit_8() {
	local a b

	expect 8 wait --peer --timeout 0.2 2 || return
	has "timed out" || return
	exec {a}<>/dev/${MOD}2 {b}<>/dev/${MOD}2
	expect 8 close --timeout 200ms "fd:$a" || return
	# The peer's close now finds ours: the handshake completes at once.
	expect 0 close --timeout 5 "fd:$b" || return
	expect 0 close "fd:$a" || return
	exec {a}>&- {b}>&-
}

shutdown_write_gives_peer_eof() {
	local a b

	exec {a}<>/dev/${MOD}2 {b}<>/dev/${MOD}2
	printf 'last words' >&$a
	expect 0 shutdown "fd:$a" write || return
	expect 0 info "fd:$b" || return
	has "peer_wr_shut" || return
	[ "$(cat <&$b)" = "last words" ] || fail "the peer did not read to EOF"
	expect 0 shutdown "fd:$b" both || return
	exec {a}>&- {b}>&-
}

R16_R17_control_add_query_del() {
	local dev idx

	have_control || {
		echo "SKIP: this module has no /dev/mflow-control"
		return 4
	}
	expect 0 add --name ctl-test --fifo-size 8K || return
	dev=$out
	idx=${dev#/dev/"$MOD"}
	[ -c "$dev" ] || fail "add printed '$dev', not a node" || return
	[ "$(cat "$CLASS/$MOD$idx/name")" = ctl-test ] ||
		fail "sysfs name of $dev" || return
	expect 0 query ctl-test || return
	echo "$out"
	has "name:       ctl-test" || return
	has "fifo_size:  8192" || return
	has "state:      idle" || return
	expect 0 query --json "$idx" || return
	has '"name":"ctl-test"' || return
	expect 0 info name:ctl-test || return
	has "device:      $dev" || return
	expect 6 add --name ctl-test || return
	has "taken" || return
	expect 6 add --index 0 || return
	has "exists" || return
	expect 0 del ctl-test || return
	expect 5 del ctl-test || return
	expect 5 query "$idx" || return
	expect 0 free || return
	[ "$out" = /dev/${MOD}0 ] || fail "free: '$out', want /dev/${MOD}0"
}

R19_wait_peer_returns_when_peer_opens() {
	local a b pid t0

	exec {a}<>/dev/${MOD}2
	# Background commands must not inherit the endpoints: closed there.
	"$CTL" wait --peer --timeout 120 2 {a}>&- >"$WORK/wait.out" 2>&1 &
	pid=$!
	# Sleeping in poll() on the sysfs attributes: not returned early.
	until_true 60 in_poll "$pid" ||
		fail "wait --peer never slept in poll: $(cat "$WORK/wait.out")" ||
		return
	t0=$SECONDS
	exec {b}<>/dev/${MOD}2
	wait "$pid" || fail "wait --peer: exit $?: $(cat "$WORK/wait.out")" ||
		return
	echo "returned $((SECONDS - t0)) s after the peer opened"
	# Well before its own 30 s recheck: the notification woke it.
	[ $((SECONDS - t0)) -lt 20 ] || fail "woken late" || return
	"$CTL" wait --idle --timeout 120 2 {a}>&- {b}>&- >"$WORK/wait.out" 2>&1 &
	pid=$!
	until_true 60 in_poll "$pid" || fail "wait --idle never slept" || return
	exec {a}>&- {b}>&-
	wait "$pid" || fail "wait --idle: exit $?: $(cat "$WORK/wait.out")"
}

# Whatever happens, no bridge is left running.
R19_connect_10MB_each_way_and_list_counts() {
	local rc

	connect_both_ways
	rc=$?
	# shellcheck disable=SC2046 # one PID a word
	kill $(jobs -p) 2>/dev/null
	wait
	return $rc
}

connect_both_ways() {
	local mib=10 bytes p0 p1 fd sums

	bytes=$((mib << 20))
	head -c "$bytes" /dev/urandom >"$WORK/a" || return
	head -c "$bytes" /dev/urandom >"$WORK/b" || return
	mkfifo "$WORK/in0"
	# Endpoint 0 reads its input from a fifo held open until the counts
	# are checked, so the connection stays live meanwhile.
	"$CTL" connect 3 <"$WORK/in0" >"$WORK/recv0" 2>"$WORK/err0" &
	p0=$!
	exec {fd}>"$WORK/in0"
	until_true 60 attr_is 3 attached 1 || fail "connect did not attach" ||
		return
	# Not holding the fifo open: endpoint 0 must see its end.
	"$CTL" connect 3 <"$WORK/b" >"$WORK/recv1" 2>"$WORK/err1" {fd}>&- &
	p1=$!
	cat "$WORK/a" >&$fd
	until_true 120 size_is "$WORK/recv1" "$bytes" ||
		fail "endpoint 1 got $(stat -c %s "$WORK/recv1") bytes" || return
	until_true 120 size_is "$WORK/recv0" "$bytes" ||
		fail "endpoint 0 got $(stat -c %s "$WORK/recv0") bytes" || return
	expect 0 list || return
	echo "$out"
	echo "$out" | grep -Eq "^${MOD}3 +- +connected +2 +[0-9]+ +262144 +$bytes +$bytes *$" ||
		fail "list does not show $bytes bytes each way on ${MOD}3" ||
		return
	expect 0 list --json || return
	has "\"bytes_0_to_1\":$bytes,\"bytes_1_to_0\":$bytes" || return
	exec {fd}>&-
	wait "$p0" || fail "connect (endpoint 0): exit $?: $(cat "$WORK/err0")" ||
		return
	wait "$p1" || fail "connect (endpoint 1): exit $?: $(cat "$WORK/err1")" ||
		return
	sums=$(cd "$WORK" && sha256sum a recv1 b recv0)
	echo "$sums"
	# shellcheck disable=SC2086 # split into hash and name
	set -- $sums
	[ "$1" = "$3" ] && [ "$5" = "$7" ] || fail "sha256sum differs" || return
	echo "10 MiB each way, sha256sum equal"
	until_true 30 attr_is 3 state idle || fail "${MOD}3 not idle after"
}

# ready_or_gone PID FILE: the tracer said it is ready, or it has exited.
ready_or_gone() {
	grep -q "tracing mflow" "$2" || ! kill -0 "$1" 2>/dev/null
}

R19_trace_shows_a_short_exchange() {
	local tr=/sys/kernel/tracing saved rc payload
	local pp=/sys/module/$MOD/parameters/trace_payload

	if ! grep -qs tracefs /proc/filesystems; then
		echo "SKIP: this kernel has no tracefs"
		return 4
	fi
	# Enabling an event also starts comm recording (the top-level
	# record-cmd option, which instances inherit), and that live-patches
	# sched_switch's static branch in __schedule while every vCPU runs
	# it. Under emulation a vCPU can then still execute the int3 of the
	# patch after the patch is done: two kernels have oopsed there. With
	# record-cmd off only mflow's own tracepoints are patched, and no
	# mflow code runs while they are.
	grep -qs " $tr tracefs " /proc/mounts || mount -t tracefs nodev $tr ||
		fail "cannot mount tracefs on $tr" || return
	saved=$(cat $tr/options/record-cmd) ||
		fail "no $tr/options/record-cmd" || return
	# The data bytes are in the events only when root asks for them.
	payload=$(cat "$pp") || fail "no $pp" || return
	echo Y >"$pp" || fail "cannot set $pp" || return
	echo 0 >$tr/options/record-cmd || fail "cannot clear record-cmd" || return
	"$CTL" trace --hex 8 --count 8 --timeout 120 0 \
		>"$WORK/trace.out" 2>"$WORK/trace.err" &
	trace_exchange $!
	rc=$?
	echo "$saved" >$tr/options/record-cmd
	echo "$payload" >"$pp"
	return $rc
}

# trace_exchange PID: drive one exchange on mflow0 past "mflowctl trace"
# (PID) and check the events it printed.
trace_exchange() {
	local pid=$1 a b ev rc
	# mflowctl says on stderr when its events are enabled.
	until_true 60 ready_or_gone "$pid" "$WORK/trace.err" ||
		fail "trace never started: $(cat "$WORK/trace.err")" || return
	if ! grep -q "tracing mflow" "$WORK/trace.err"; then
		wait "$pid"
		rc=$?
		if [ "$rc" = 9 ]; then
			echo "SKIP: $(cat "$WORK/trace.err")"
			return 4
		fi
		fail "trace: exit $rc: $(cat "$WORK/trace.err")"
		return
	fi
	exec {a}<>/dev/${MOD}0 {b}<>/dev/${MOD}0
	printf 'hello' >&$a
	dd bs=5 count=1 status=none <&$b >/dev/null
	"$CTL" shutdown "fd:$a" write
	"$CTL" close --timeout 5 "fd:$b"
	exec {a}>&- {b}>&-
	wait "$pid" || fail "trace: exit $?: $(cat "$WORK/trace.err")" || return
	cat "$WORK/trace.out"
	for ev in "ep0 attach" "ep1 attach" "ep0 write    5 bytes [68 65 6c 6c 6f]" \
		"ep1 read     5 bytes [68 65 6c 6c 6f]" "ep0 shutdown write" \
		"ep1 close    timeout 5000" "ep0 detach" "ep1 detach"; do
		grep -qF "mflow0 $ev" "$WORK/trace.out" ||
			fail "no 'mflow0 $ev' event" || return
	done
	! ls -d /sys/kernel/tracing/instances/mflowctl-* 2>/dev/null ||
		fail "trace left its tracefs instance behind"
}

module_missing_exits_3() {
	[ -n "${MFLOW_KO:-}" ] || { echo "SKIP: no MFLOW_KO to reload"; return 4; }
	rmmod $MOD || return
	run "$CTL" list
	insmod "$MFLOW_KO" || fail "cannot load $MFLOW_KO again" || return
	[ "$rc" = 3 ] || fail "list without the module: exit $rc: $out" || return
	has "not loaded" || return
}

# consoles_now: how many consoles exist.
consoles_now() {
	find "$CLASS" -mindepth 1 -maxdepth 1 -name "$MOD*" | wc -l
}

every_command_has_help() {
	local c

	for c in list ls info wait connect shutdown close trace add del \
		delete query free; do
		expect 0 "$c" --help || return
		has "Usage: mflowctl " || return
		expect 0 "$c" -h || return
	done
	expect 0 ls --help || return
	has "'ls' is another name for 'list'" || return
	expect 0 delete --help || return
	has "Usage: mflowctl del DEV" || return
}

bad_option_is_one_line_with_a_hint() {
	expect 2 list --bogus || return
	[ "$(printf '%s\n' "$out" | wc -l)" = 2 ] ||
		fail "not two lines: $out" || return
	has "list: unknown option '--bogus'" || return
	has "Try 'mflowctl list --help'." || return
	expect 2 --bogus || return
	[ "$(printf '%s\n' "$out" | wc -l)" = 2 ] || fail "not two lines: $out" ||
		return
	expect 2 wait --timeout || return
	has "needs a value" || return
}

stdout_write_errors_fail() {
	local a

	for a in "--help" "list --help" "list" "list --json" "--version" \
		"info 0"; do
		# shellcheck disable=SC2086 # the words are the arguments
		"$CTL" $a >/dev/full 2>"$WORK/full.err"
		rc=$?
		[ "$rc" != 0 ] || fail "mflowctl $a >/dev/full: exit 0" || return
		grep -q "write error" "$WORK/full.err" ||
			fail "mflowctl $a >/dev/full: $(cat "$WORK/full.err")" ||
			return
	done
}

R17_empty_dev_is_an_error_everywhere() {
	local before conn a

	before=$(consoles_now)
	conn=$(cat $CLASS/${MOD}0/connection)
	for a in "info" "wait" "connect" "close" "query" "del" "delete" \
		"trace"; do
		expect 2 "$a" "" </dev/null || return
		has "empty" || return
	done
	expect 2 shutdown "" write || return
	has "empty" || return
	expect 2 info name: || return
	expect 2 del name: || return
	# Nothing was removed, attached or connected.
	[ "$(consoles_now)" = "$before" ] ||
		fail "del \"\" removed a console" || return
	attr_is 0 attached 0 || fail "an endpoint of ${MOD}0 is attached" ||
		return
	attr_is 0 connection "$conn" || fail "${MOD}0 had a connection"
}

R17_names_that_read_as_index_or_node_refused() {
	local before n long

	have_control || { echo "SKIP: no control device"; return 4; }
	before=$(consoles_now)
	long=abcdefghijklmnopqrstuvwxyz012345
	for n in 7 007 mflow0 mflow12 -x .x "a b" "" "$long" "é"; do
		expect 2 add --name "$n" || return
		has "R17" || return
	done
	[ "$(consoles_now)" = "$before" ] ||
		fail "a refused add created a console" || return
	# A number is an index, never a name: ask for one no console has.
	n=7
	while [ -e $CLASS/${MOD}$n ]; do n=$((n + 1)); done
	expect 5 info $n || return
	has "no console mflow$n" || return
	expect 5 del $n || return
	has "no console mflow$n" || return
}

R16_del_and_query_by_name_alias_delete() {
	local dev

	have_control || { echo "SKIP: no control device"; return 4; }
	expect 0 add --name by-name.q || return
	dev=$out
	expect 0 query by-name.q || return
	has "device:     $dev" || return
	expect 0 query name:by-name.q || return
	has "name:       by-name.q" || return
	expect 0 delete by-name.q || return
	[ ! -e "$dev" ] || fail "$dev still there after delete" || return
	expect 5 query by-name.q || return
	has "no console is named 'by-name.q'" || return
	expect 5 del by-name.q || return
}

shutdown_and_close_refuse_to_attach_without_flag() {
	local conn

	conn=$(cat $CLASS/${MOD}2/connection)
	expect 2 shutdown 2 write || return
	has "--attach" || return
	expect 2 close /dev/${MOD}2 || return
	has "fd:N" || return
	expect 2 close --timeout 1 ${MOD}2 || return
	attr_is 2 connection "$conn" ||
		fail "a refused command attached an endpoint" || return
	# Asked for: it attaches, shuts and leaves; endpoint 1 then comes
	# and goes to end that connection.
	expect 0 shutdown --attach 2 both || return
	attr_is 2 connection $((conn + 1)) ||
		fail "shutdown --attach did not attach" || return
	: <>/dev/${MOD}2
	until_true 30 attr_is 2 state idle || fail "${MOD}2 not idle after"
}

version_for_any_user() {
	local mod

	mod=$(cat /sys/module/$MOD/version) || return
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --version
	[ "$rc" = 0 ] || fail "--version as nobody: exit $rc: $out" || return
	has "mflowctl ${VERSION:-}" || return
	has "module: $mod" || return
	expect 0 --version --json || return
	python3 -c 'import json, sys
d = json.loads(sys.argv[1])
assert d["json_version"] == 1 and d["module"] == sys.argv[2], d' \
		"$out" "$mod" || fail "--version --json: $out"
}

permission_hints_name_the_group_or_root() {
	local tr=/sys/kernel/tracing

	run setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" \
		connect 1 </dev/null
	[ "$rc" = 7 ] || fail "connect as nobody: exit $rc: $out" || return
	has "group mflow" || return
	if have_control; then
		run setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" \
			del 3
		[ "$rc" = 7 ] || fail "del as nobody: exit $rc: $out" || return
		has "group mflow" || return
	fi
	grep -qs " $tr tracefs " /proc/mounts || mount -t tracefs nodev $tr ||
		{ echo "SKIP: no tracefs"; return 4; }
	if setpriv --reuid=65534 --regid=65534 --clear-groups \
		test -x $tr; then
		echo "SKIP: $tr is open to every user here"
		return 4
	fi
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" \
		trace --count 1 --timeout 1
	[ "$rc" = 7 ] || fail "trace as nobody: exit $rc: $out" || return
	has "root" || return
	case "$out" in
	*"not mounted"*) fail "mounted tracefs called not mounted: $out" ;;
	esac
}

strict_numbers_and_times_with_ranges() {
	local t

	for t in nan inf -1 1e3 0x10 " 1" 1.5h "" .; do
		expect 2 wait --timeout "$t" 0 || return
		has "not a time" || return
	done
	expect 2 close --timeout 99999999999 fd:0 || return
	has "at most 1000000000 s" || return
	expect 2 add --fifo-size 1 || return
	has "4096..67108864" || return
	expect 2 add --fifo-size 128M || return
	has "out of range" || return
	expect 2 add --fifo-size 12X || return
	expect 2 add --index 4294967294 || return
	has "out of range" || return
	has "$(($(cat /sys/module/$MOD/parameters/max_consoles) - 1))" ||
		return
	expect 2 add --index -1 || return
	expect 2 trace --hex 17 || return
	has "0..16" || return
	expect 2 info fd:x || return
}

list_columns_fit_long_names() {
	local long=a-name-of-thirty-one-bytes-long dev idx hdr line

	have_control || { echo "SKIP: no control device"; return 4; }
	expect 0 add --name "$long" || return
	dev=$out
	idx=${dev#/dev/"$MOD"}
	expect 0 list || return
	echo "$out"
	hdr=$(printf '%s\n' "$out" | head -1)
	line=$(printf '%s\n' "$out" | grep "^$MOD$idx ")
	"$CTL" del "$long" || return
	case "$line" in
	*" $long idle "*) ;;
	*) fail "the name is cut or run into the state: $line"; return ;;
	esac
	# The STATE column starts where its heading does.
	hdr=$(printf '%s' "${hdr%%STATE*}" | wc -c)
	line=$(printf '%s' "${line%%idle*}" | wc -c)
	[ "$hdr" = "$line" ] || fail "STATE at column $hdr, idle at $line"
}

json_schema_one_version_same_types() {
	local a b dev

	have_control || { echo "SKIP: no control device"; return 4; }
	expect 0 add --json --name json-test || return
	echo "$out" >"$WORK/add.json"
	expect 0 list --json || return
	echo "$out" >"$WORK/list.json"
	expect 0 info --json json-test || return
	echo "$out" >"$WORK/info.json"
	expect 0 query --json json-test || return
	echo "$out" >"$WORK/query.json"
	dev=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device"])' \
		"$WORK/add.json") || return
	exec {a}<>"$dev" {b}<>"$dev"
	expect 0 info --json "fd:$a" || return
	echo "$out" >"$WORK/ep.json"
	exec {a}>&- {b}>&-
	expect 0 del json-test || return
	expect 0 free --json || return
	echo "$out" >"$WORK/free.json"
	python3 - "$WORK" <<'PYEOF' || fail "JSON schema"
import json, sys
w = sys.argv[1]
docs = {n: json.load(open(f"{w}/{n}.json"))
        for n in ("add", "list", "info", "query", "ep", "free")}
types = {"index": int, "device": str, "attached": int, "connection": int,
         "fifo_size": int, "state": str, "endpoint": int, "flags": list,
         "attached_endpoints": list, "used_endpoints": list}
def check(o, where):
    for k, t in types.items():
        if k in o:
            assert isinstance(o[k], t), (where, k, o[k])
    assert o["name"] is None or isinstance(o["name"], str), (where, o)
for n, d in docs.items():
    assert d["json_version"] == 1, (n, d)
    for o in d["consoles"] if n == "list" else [d]:
        check(o, n)
assert docs["add"]["name"] == "json-test" and docs["add"]["fifo_size"] > 0
assert docs["info"]["device"] == docs["add"]["device"]
assert docs["query"]["attached"] == 0 and docs["query"]["used_endpoints"] == []
assert docs["ep"]["endpoint"] == 0 and "peer_attached" in docs["ep"]["flags"], docs["ep"]
print("add, list, info, query, info fd:N, free: json_version 1, same types")
PYEOF
}

# The udev rule of the tree, for as long as the test runs.
R17_add_wait_returns_with_node_and_link() {
	local dev rule=/run/udev/rules.d/60-mflow.rules had_rule=

	have_control || { echo "SKIP: no control device"; return 4; }
	if [ -e /run/udev/control ] && [ -f "${MFLOW_SRC:-}/tools/60-mflow.rules" ]; then
		[ -e $rule ] && had_rule=1
		mkdir -p /run/udev/rules.d
		[ -n "$had_rule" ] || cp "$MFLOW_SRC/tools/60-mflow.rules" $rule
		udevadm control --reload
	fi
	expect 0 add --wait --timeout 60 --name wait-test || return
	dev=$out
	[ -c "$dev" ] || fail "add --wait returned before $dev" || return
	if [ -e /run/udev/control ] && [ -e $rule ]; then
		[ "$(readlink -f /dev/mflow/by-name/wait-test)" = "$dev" ] ||
			fail "add --wait returned before its by-name link" ||
			return
		echo "node and /dev/mflow/by-name/wait-test there on return"
	else
		echo "no udev here: the node only"
	fi
	expect 0 del wait-test || return
	[ -n "$had_rule" ] || rm -f $rule
}

if [ ! -c "/dev/${MOD}0" ] || [ ! -d "$CLASS" ]; then
	skip_suite "$MOD not loaded"
fi
need_root
if [ ! -x "$CTL" ]; then
	skip_suite "no mflowctl next to this script"
fi

MFLOW_SRC=$(sed -n 's/^MFLOW_SRC=//p' "$HERE/mflow_paths.env" 2>/dev/null)

echo "1..30"
run_test help_names_every_command_and_exit_code
run_test usage_errors_exit_2
run_test version_prints_tool_and_module
run_test R17_list_shows_every_console
run_test list_counters_hidden_from_other_users
run_test info_console_and_endpoint
run_test no_such_console_exits_5
run_test busy_exits_6
run_test permission_exits_7
run_test timeouts_exit_8
run_test shutdown_write_gives_peer_eof
run_test R16_R17_control_add_query_del
run_test R19_wait_peer_returns_when_peer_opens
run_test R19_connect_10MB_each_way_and_list_counts
run_test R19_trace_shows_a_short_exchange
run_test every_command_has_help
run_test bad_option_is_one_line_with_a_hint
run_test stdout_write_errors_fail
run_test R17_empty_dev_is_an_error_everywhere
run_test R17_names_that_read_as_index_or_node_refused
run_test R16_del_and_query_by_name_alias_delete
run_test shutdown_and_close_refuse_to_attach_without_flag
run_test version_for_any_user
run_test permission_hints_name_the_group_or_root
run_test strict_numbers_and_times_with_ranges
run_test list_columns_fit_long_names
run_test json_schema_one_version_same_types
run_test R17_add_wait_returns_with_node_and_link
run_test module_missing_exits_3
run_test R17_list_shows_every_console
echo "# $((ntest - nfail)) / $ntest tests passed"
[ "$nfail" = 0 ]
