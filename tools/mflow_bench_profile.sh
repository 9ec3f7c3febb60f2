#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mflow_bench_profile.sh BENCH OUTDIR [WORKLOAD [TRANSPORTS]]: where the
# time of one benchmark row goes, per transport, inside a VM with mflow
# loaded (run as root). For each transport (short names as for
# mflow_bench -t; default mflow,sock,sock2,pipe) over WORKLOAD (default
# "ping-pong 2 CPUs"):
#   OUTDIR/stat-T.txt  perf stat: scheduler wakeups, switches, migrations
#                      and task-clock over the run (one warm-up and one
#                      measured sample of 1000 round trips: divide by
#                      2032 for a per-round-trip figure)
#   OUTDIR/perf-T.txt  perf record -a -g on cpu-clock (no PMU under TCG),
#                      flat profile of the hottest symbols
# WORKLOAD "console 64 B lines + blocked reader" with TRANSPORTS
# mflow,mflow-nospin profiles the reply spin's cost on a one-way console
# (SPEC R20); the spin counters of fdinfo follow each run's table.
# perf comes from the host's linux-perf (virtme shares the host's root).
set -u

bench=$1
out=$2
mkdir -p "$out"
work=${3:-ping-pong 2 CPUs}
list=${4:-mflow,sock,sock2,pipe}
perf=$(command -v perf) || { echo "no perf"; exit 4; }

grep -qs ' /sys/kernel/tracing ' /proc/mounts ||
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
echo -1 >/proc/sys/kernel/perf_event_paranoid
echo 0 >/proc/sys/kernel/kptr_restrict

for t in ${list//,/ }; do
	"$perf" stat -o "$out/stat-$t.txt" \
		-e sched:sched_wakeup,sched:sched_waking,sched:sched_switch \
		-e cpu-migrations,context-switches,task-clock \
		-- "$bench" -w "$work" -t "$t" -r 1 -p 1000 >"$out/bench-$t.txt" 2>&1
	"$perf" record -q -e cpu-clock -F 4000 -a -g -o "$out/perf-$t.data" \
		-- "$bench" -w "$work" -t "$t" -r 1 -p 1000 >/dev/null 2>&1
	"$perf" report -i "$out/perf-$t.data" --stdio --no-children \
		--sort sym --percent-limit 1.5 -g none 2>/dev/null |
		grep -v '^$' | head -n 60 >"$out/perf-$t.txt"
	rm -f "$out/perf-$t.data"
	echo "== $t"
	grep -E 'sched_|migrations|switches|task-clock|elapsed' "$out/stat-$t.txt"
	grep '^| ping\|^| bulk\|^| console' "$out/bench-$t.txt" | cut -c1-120
	grep '^- .*: mflow' "$out/bench-$t.txt"
	head -n 25 "$out/perf-$t.txt"
done
