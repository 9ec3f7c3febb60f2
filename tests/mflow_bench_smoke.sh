#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark's smoke run, with TAP output, so that tools/mflow_bench
# cannot rot: `mflow_bench --quick` (one round, tiny volumes: its figures
# mean nothing) exits 0, prints a row for every workload with a cell for
# every transport, writes the same table to --out, and leaves every
# console idle for the suites after it; --help is complete and a bad
# option fails with exit 2 before anything runs. The rows that show SPEC
# R20's costs (console pattern, ping-pong with the reply spin on and off,
# CPU per GB of bulk) must print figures: only that they exist and are
# numbers is checked here, never what they are.
#
# Needs root and mflow loaded with idle consoles; mflow_bench is built
# beside this script (tests/Makefile). Takes seconds natively, well under
# a minute in an emulated VM.

set -u

# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"

BENCH=$(dirname "$0")/mflow_bench
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

TRANSPORTS=("mflow" "pipe" "pipe resized" "socketpair" "socketpair matched"
	"pty raw" "2 one-way socketpairs" "mflow busy-poll" "mflow no reply spin")
ROWS=()
for s in "4 KiB" "64 KiB" "1024 KiB"; do
	ROWS+=("bulk $s, MB/s" "bulk $s, CPU s per GB"
		"bulk $s, reader +128 B, MB/s" "bulk $s, reader +128 B, CPU s per GB")
done
ROWS+=("writev 16 x 256 B, MB/s" "one task, write + read of 4 KiB, us"
	"one task, write + read of 1 B, us")
for m in unpinned "1 CPU" "2 CPUs"; do
	ROWS+=("ping-pong $m, median us" "ping-pong $m, p99 us"
		"ping-pong $m, CPU us per round trip")
done
for m in "+ blocked reader" alone; do
	ROWS+=("console 64 B lines $m, MB/s" "console 64 B lines $m, CPU ms per MB")
done
ROWS+=("1 pair, 64 KiB writes, aggregate MB/s")
for n in 2 8 64; do
	ROWS+=("$n pairs, 64 KiB writes, aggregate MB/s")
done
ROWS+=("sendfile from a memfd, MB/s" "io_uring 4 KiB, QD 1, MB/s"
	"io_uring 4 KiB, QD 32, MB/s")

# The one quick run every test below looks at.
bench_rc=
if [ -x "$BENCH" ]; then
	start=$(date +%s)
	"$BENCH" --quick --out "$TMP/table.md" >"$TMP/stdout" 2>"$TMP/stderr"
	bench_rc=$?
	echo "$(($(date +%s) - start))" >"$TMP/seconds"
fi

have_bench() {
	[ -n "$bench_rc" ] || { echo "no $BENCH"; return 4; }
}

# row LABEL: the table row of that workload, from the run's stdout.
row() {
	grep -F "| $1 |" "$TMP/stdout"
}

bench_quick_runs_every_transport() {
	local t

	have_bench || return
	[ "$bench_rc" = 0 ] || {
		cat "$TMP/stderr"
		fail "mflow_bench --quick exited $bench_rc"
		return
	}
	echo "quick run: $(cat "$TMP/seconds") s"
	for t in "${TRANSPORTS[@]}"; do
		head -n 20 "$TMP/stdout" | grep -qF "| $t |" ||
			fail "no column for $t" || return
	done
	grep -q '^- kernel: ' "$TMP/stdout" || fail "no kernel line" || return
	grep -q '^- CPU: .*virtualisation: ' "$TMP/stdout" ||
		fail "no CPU/virtualisation line"
}

# Every row has a cell a transport, then a ratio each other transport;
# mflow's cell is a figure, except for what needs capabilities mflow may
# still lack (sendfile needs .splice_write, io_uring may be missing).
bench_quick_prints_every_row() {
	local r line cells

	have_bench || return
	for r in "${ROWS[@]}"; do
		line=$(row "$r") || fail "no row '$r'" || return
		cells=$(awk -F'|' '{ print NF - 2 }' <<<"$line")
		[ "$cells" = $((1 + 2 * ${#TRANSPORTS[@]} - 1)) ] ||
			fail "row '$r' has $cells cells: $line" || return
		case $r in
		sendfile* | io_uring*) continue ;;
		esac
		awk -F'|' '{ exit !($3 ~ /^ [0-9.]+ \(/) }' <<<"$line" ||
			fail "mflow has no figure in '$line'" || return
		case $r in
		ping-pong*)
			# the 8th transport column: mflow busy-poll
			awk -F'|' '{ exit !($10 ~ /^ [0-9.]+ \(/) }' <<<"$line" ||
				fail "busy-poll mflow has no figure in '$line'" ||
				return
			;;
		esac
		case $r in
		ping-pong* | console*)
			# the 9th: mflow with the reply spin off, and the last
			# ratio column, spin on / off
			awk -F'|' '{ exit !($11 ~ /^ [0-9.]+ \(/) }' <<<"$line" ||
				fail "mflow-nospin has no figure in '$line'" ||
				return
			awk -F'|' '{ exit !($(NF - 1) ~ /^ [0-9.]+ $/) }' \
				<<<"$line" ||
				fail "no spin on/off ratio in '$line'" || return
			;;
		esac
	done
}

# SPEC R20: the console pattern, and the reply spin on and off, are rows
# with figures for every transport they run on (pipe and socketpair for
# reference); the spins the module counted in fdinfo follow the table,
# three numbers for each mflow variant.
bench_quick_R20_rows_have_figures() {
	local r line col m

	have_bench || return
	for r in "console 64 B lines + blocked reader, CPU ms per MB" \
		"console 64 B lines alone, CPU ms per MB"; do
		line=$(row "$r") || fail "no row '$r'" || return
		# mflow, pipe, pipe resized, socketpair, socketpair matched
		for col in 3 4 5 6 7; do
			awk -F'|' -v c=$col '{ exit !($c ~ /^ [0-9.]+ \(/) }' \
				<<<"$line" ||
				fail "column $((col - 2)) has no figure: $line" ||
				return
		done
	done
	grep -q "^- mflow reply spin: module parameter reply_spin=" \
		"$TMP/stdout" || fail "no reply_spin line" || return
	grep -q "^mflow's reply spins over the measured samples" "$TMP/stdout" ||
		fail "no reply spin notes" || return
	for m in "ping-pong unpinned" "ping-pong 2 CPUs" \
		"console 64 B lines + blocked reader" "console 64 B lines alone"; do
		line=$(grep -F -- "- $m: mflow " "$TMP/stdout") ||
			fail "no reply spins for '$m'" || return
		[[ ${line#"- $m:"} =~ ^\ mflow\ [0-9]+\ [0-9]+\ [0-9]+\;\ mflow-nospin\ [0-9]+\ [0-9]+\ [0-9]+ ]] ||
			fail "reply spins for '$m' are not numbers: $line" ||
			return
	done
}

bench_quick_writes_the_table_file() {
	local r

	have_bench || return
	[ -s "$TMP/table.md" ] || fail "--out wrote nothing" || return
	for r in "${ROWS[@]}"; do
		grep -qF "| $r |" "$TMP/table.md" ||
			fail "'$r' missing from the --out file" || return
	done
}

bench_quick_leaves_consoles_idle() {
	local d rc=0

	have_bench || return
	for d in /sys/class/mflow/mflow*; do
		[ -e "$d/state" ] || continue
		[ "$(cat "$d/state")" = idle ] && continue
		echo "${d##*/}: $(cat "$d/state")"
		rc=1
	done
	return $rc
}

# --help lists every option and exits 0; a bad option or a value out of
# range or not a number exits 2 with a message and runs nothing.
bench_help_and_bad_options() {
	local o rc

	[ -x "$BENCH" ] || { echo "no $BENCH"; return 4; }
	"$BENCH" --help >"$TMP/help" 2>"$TMP/help.err"
	rc=$?
	[ "$rc" = 0 ] || fail "--help exited $rc" || return
	[ ! -s "$TMP/help.err" ] || fail "--help wrote to stderr" || return
	head -n 1 "$TMP/help" | grep -q '^usage: ' ||
		fail "--help does not start with usage:" || return
	for o in --help --quick --out -d -m -p -r -w -t -b "Exit status" \
		mflow-nospin console "CPU s per GB"; do
		grep -qe "$o" "$TMP/help" ||
			fail "--help does not mention $o" || return
	done
	for o in --no-such-option "-r 99" "-r 0" "-b 0" "-t nosuch" "-m abc" \
		"-p 5x"; do
		# shellcheck disable=SC2086 # an option and its value
		"$BENCH" $o >"$TMP/bad" 2>"$TMP/bad.err"
		rc=$?
		[ "$rc" = 2 ] || fail "'$o' exited $rc, not 2" || return
		[ -s "$TMP/bad.err" ] || fail "'$o' said nothing on stderr" ||
			return
		! grep -q '^| ' "$TMP/bad" || fail "'$o' still ran" || return
	done
}

echo "TAP version 13"
echo "1..6"
run_test bench_quick_runs_every_transport
run_test bench_quick_prints_every_row
run_test bench_quick_R20_rows_have_figures
run_test bench_quick_writes_the_table_file
run_test bench_quick_leaves_consoles_idle
run_test bench_help_and_bad_options
[ "$nfail" = 0 ]
