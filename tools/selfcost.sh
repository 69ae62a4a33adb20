#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# selfcost.sh: what connpressure's own process costs when left running: its CPU (% of one
# core) and peak memory (VmHWM) over a sustained storm or an idle host, the targets of
# "under 1% of a core at a 1 s interval, under 16 MB".
#
# WHAT IT DOES
#   Each scenario starts connpressure (`-o json -i 1`, output thrown away, every namespace),
#   waits until its first document is out, then measures its utime+stime over the next
#   --seconds while the scenario runs, and its VmHWM at the end. Scenarios:
#     tcp-client-close, tcp-server-close, udp   tools/loadgen (--threads 2) in a fresh netns
#                                               (range 1024-65535, tcp_tw_reuse=1): a storm
#     idle                                      nothing: the per-interval pass alone
#     tasks                                     idle, with --tasks extra threads on the host
#                                               (the namespace discovery looks at tasks)
#   With --cp-other PATH (another build), every run of connpressure is paired with a run of
#   that build, alternating which goes first, so that both see the same host.
#   Prints one line per run and, per scenario and build, the median (min-max) over --runs.
#   A trap removes the namespaces and processes on any exit. Nothing is asserted.
#
# USAGE (root)
#   tools/selfcost.sh [--scenarios LIST] [--seconds S] [--runs N] [--tasks N]
#                     [--cp PATH] [--cp-other PATH] [--loadgen PATH]
#   defaults: --scenarios tcp-client-close,tcp-server-close,udp,idle --seconds 30 --runs 3
#             --tasks 5000
#   A default run takes about 7 minutes; `--seconds 5 --runs 1` is a quick look.

set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCENARIOS=tcp-client-close,tcp-server-close,udp,idle
SECONDS_RUN=30
RUNS=3
TASKS=5000
CP=$ROOT/.output/connpressure
CP_OTHER=
LOADGEN=$ROOT/.output/loadgen
CLK_TCK=$(getconf CLK_TCK)
NS="cpself-$$"
CPID=	# connpressure being measured
LPID=	# the load generator, or the task holder
TMP=

die() {
	echo "selfcost: $*" >&2
	exit 1
}

stop() {	# stop PID [SIG]: SIG (INT), then SIGKILL after 5 s; reaps it
	local i

	[ -n "$1" ] || return 0
	kill -"${2:-INT}" "$1" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup() {
	trap - EXIT INT TERM HUP
	stop "$CPID"
	stop "$LPID" TERM
	ip netns del "$NS" 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "selfcost: interrupted, cleaning up" >&2; exit 130' INT TERM HUP

while [ $# -gt 0 ]; do
	case $1 in
	--scenarios) SCENARIOS=${2:?}; shift ;;
	--seconds)   SECONDS_RUN=${2:?}; shift ;;
	--runs)      RUNS=${2:?}; shift ;;
	--tasks)     TASKS=${2:?}; shift ;;
	--cp)        CP=${2:?}; shift ;;
	--cp-other)  CP_OTHER=${2:?}; shift ;;
	--loadgen)   LOADGEN=${2:?}; shift ;;
	-h|--help)   sed -n '/^# WHAT/,/^# *A default/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*)           die "unknown option: $1 (see --help)" ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || die "must run as root"
[[ $SECONDS_RUN =~ ^[1-9][0-9]*$ ]] || die "--seconds wants a positive integer"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer"
[[ $TASKS =~ ^[1-9][0-9]*$ ]] || die "--tasks wants a positive integer"
for b in "$CP" ${CP_OTHER:+"$CP_OTHER"} "$LOADGEN"; do
	[ -x "$b" ] || die "$b: not an executable (run make first)"
done
for s in ${SCENARIOS//,/ }; do
	case $s in
	tcp-client-close|tcp-server-close|udp|idle|tasks) ;;
	*) die "unknown scenario: $s" ;;
	esac
done
TMP=$(mktemp -d)

# ticks PID: utime+stime of the whole process, in clock ticks.
ticks() {
	local s
	local -a f

	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	read -ra f <<<"$s"
	echo $(( f[11] + f[12] ))
}

# start_cp BINARY: connpressure into CPID, returns once its first document is out.
start_cp() {
	local i

	"$1" -o json -i 1 >"$TMP/out" 2>"$TMP/err" &
	CPID=$!
	for i in $(seq 300); do
		[ -s "$TMP/out" ] && return 0
		kill -0 "$CPID" 2>/dev/null || break
		sleep 0.1
	done
	die "$1 did not start: $(tail -1 "$TMP/err")"
}

# load SCENARIO: starts what the scenario runs (into LPID), or nothing.
load() {
	case $1 in
	idle) LPID= ;;
	tasks)
		python3 -c '
import signal, sys, threading
ev = threading.Event()
for _ in range(int(sys.argv[1])):
    threading.Thread(target=ev.wait, daemon=True).start()
print("ready", flush=True)
signal.pause()' "$TASKS" >"$TMP/tasks" &
		LPID=$!
		for _ in $(seq 100); do grep -q ready "$TMP/tasks" 2>/dev/null && break; sleep 0.1; done
		;;
	*)
		ip netns del "$NS" 2>/dev/null
		ip netns add "$NS" || die "ip netns add failed"
		ip netns exec "$NS" sh -c 'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range &&
			echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse' || die "setting sysctls failed"
		ip -n "$NS" link set lo up
		ip netns exec "$NS" "$LOADGEN" --mode "$1" --threads 2 \
			--seconds "$SECONDS_RUN" >"$TMP/load" 2>&1 &
		LPID=$!
		;;
	esac
}

# one SCENARIO BINARY: one run; prints "cpu% hwm_mb rate".
one() {
	local t0 t1 s0 s1 hwm rate=-

	start_cp "$2"
	load "$1"
	t0=$(ticks "$CPID"); s0=$(date +%s.%N)
	if [ -n "$LPID" ] && [ "$1" != tasks ]; then
		wait "$LPID"
		LPID=
		rate=$(grep -o 'rate=[0-9]*' "$TMP/load" | cut -d= -f2)
	else
		sleep "$SECONDS_RUN"
	fi
	t1=$(ticks "$CPID"); s1=$(date +%s.%N)
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$CPID/status")
	stop "$CPID"; CPID=
	stop "$LPID" TERM; LPID=
	ip netns del "$NS" 2>/dev/null
	awk -v a="$t0" -v b="$t1" -v s0="$s0" -v s1="$s1" -v hz="$CLK_TCK" -v h="$hwm" -v r="$rate" \
		'BEGIN { printf "%.2f %.1f %s\n", 100 * (b - a) / hz / (s1 - s0), h / 1024, r }'
}

# summary LABEL FILE: median (min-max) of the CPU and VmHWM columns.
summary() {
	sort -n -k1,1 "$2" | awk -v l="$1" '
		{ c[NR] = $1; h[NR] = $2; if (NR == 1 || $2 > hmax) hmax = $2; if (NR == 1 || $2 < hmin) hmin = $2 }
		END { m = NR % 2 ? c[(NR + 1) / 2] : (c[NR / 2] + c[NR / 2 + 1]) / 2
		      printf "  %-34s CPU %.2f%% of a core (%.2f-%.2f), VmHWM %.1f-%.1f MB, %d runs\n",
			     l, m, c[1], c[NR], hmin, hmax, NR }'
}

echo "selfcost: connpressure -o json -i 1, ${SECONDS_RUN} s per run, $RUNS runs per scenario" \
	"(${CP}${CP_OTHER:+ vs $CP_OTHER})"
for s in ${SCENARIOS//,/ }; do
	: >"$TMP/a.$s"; : >"$TMP/b.$s"
	for r in $(seq "$RUNS"); do
		order=a
		[ -n "$CP_OTHER" ] && [ $((r % 2)) = 0 ] && order="b a"
		[ -n "$CP_OTHER" ] && [ $((r % 2)) = 1 ] && order="a b"
		for which in $order; do
			bin=$CP label=connpressure
			[ "$which" = b ] && bin=$CP_OTHER label=other
			line=$(one "$s" "$bin")
			echo "$line" >>"$TMP/$which.$s"
			read -r cpu hwm rate <<<"$line"
			printf '  %-17s run %d %-12s CPU %5s%% of a core  VmHWM %5s MB  load %s/s\n' \
				"$s" "$r" "$label" "$cpu" "$hwm" "$rate"
		done
	done
done
echo "summary (median (min-max) over runs):"
for s in ${SCENARIOS//,/ }; do
	summary "$s connpressure" "$TMP/a.$s"
	[ -n "$CP_OTHER" ] && summary "$s other" "$TMP/b.$s"
done
exit 0
