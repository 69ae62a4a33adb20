#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bench.sh: what a tracer costs a loopback connection storm — connpressure side by side with
# libbpf-tools tcplife/tcpstates and a do-nothing control, measured in one run.
#
# WHAT IT DOES
#   For each mode of tools/loadgen.c (tcp-client-close, tcp-server-close, udp) it runs the load
#   generator untraced and traced, interleaved:  U T1 U T2 U ... Tk U  (then the next round, with the
#   tracer order rotated), so every traced run sits between two untraced runs and slow drift of the
#   machine cancels. Every run gets a fresh network namespace made by this script
#   (ip_local_port_range 1024 65535, tcp_tw_reuse=1, lo up) so TIME_WAIT from earlier runs never
#   exhausts ports. The tracer runs in the root namespace (it watches the whole host), is started
#   before the traced run, given time to attach (>= 1 s and until its set of open fds is stable),
#   and stopped after it (SIGINT, then SIGTERM, then SIGKILL). A trap removes the namespaces and
#   processes on any exit, Ctrl-C included.
#   After the rounds of a mode, each tracer with BPF programs gets --prog-runs more traced runs
#   (interleaved: T1 T2 ... T1 T2 ...) with kernel.bpf_stats_enabled=1 (restored afterwards),
#   which give the kernel time of its programs per connection, program by program. The
#   statistics add their own clock reads to every program run, so those runs are not the ratio's.
#   Before measuring, each tracer gets a short functional check (start, 1 s of load, stop, count its
#   output lines); a tracer whose binary or flag is missing, or that fails to start, is skipped with
#   a note. libbpf-tools is installed with apt-get when tcplife/tcpstates are wanted and missing, and
#   tracefs is mounted at /sys/kernel/tracing if it is not mounted (their tracepoints need it), and
#   unmounted at the end.
#
# USAGE (root)
#   tools/bench.sh [--rounds N] [--seconds S] [--threads N] [--modes LIST] [--tracers LIST]
#                  [--cp PATH] [--loadgen PATH] [--hookfloor PATH] [--json FILE] [--noise PCT]
#                  [--prog-runs N]
#   defaults: --rounds 6 --prog-runs 3 --seconds 3 --threads 2 --modes tcp-client-close,tcp-server-close,udp
#             --tracers none,hooks-only,connpressure,connpressure-armed,tcplife,tcpstates
#             --cp .output/connpressure --loadgen .output/loadgen --hookfloor .output/hookfloor
#             (the last two built with make if missing) --noise 5
#   `none` is the control (no tracer at all); `hooks-only` is tools/hookfloor: connpressure's
#   per-connection tracepoints with programs that return at once, the floor of any tool on them.
#   A full default run (6 tracers) takes about 22 minutes; `--rounds 2 --seconds 1` is a quick look.
#   The tracer list lives in TRACER_TABLE below: add a line there to compare another tracer.
#
# READING THE OUTPUT (one line per mode and tracer)
#   ratio      median over rounds of  traced rate / mean(untraced rate just before, just after);
#              1.00 = free, 0.55 = the storm runs at 55% of its untraced speed. (min-max) follows.
#              `none` is the control: its spread is the noise floor of this machine.
#   cpu/conn   median over rounds of  the machine's CPU per connection traced / the same untraced
#              (mean of the two neighbours): busy time from /proc/stat over the load window (all
#              CPUs, the tracer's own process and its BPF programs included) / connections. 1.02 =
#              each connection costs the machine 2% more. Idle moments of the load (its threads all
#              waiting, which vary from run to run) move the rate but hardly this, so it is the
#              steadier measure of cost; a tracer that stalled the load without using CPU would
#              show in the ratio only. Its 90% interval is in the notes.
#   traced/s   median traced rate (connections, or UDP connects, per second); untraced/s the median
#              of the untraced references used for those ratios.
#   usr,sys    the tracer process's own CPU (utime, stime from /proc/PID/stat) over the load window
#              plus 0.5 s of drain, in ms per 1,000 connections, summed over all rounds. Resolution is
#              one clock tick (10 ms), so small values are coarse. BPF programs run in the context of
#              the traced tasks: their cost shows in the ratio, not here.
#   cpu%       the same CPU as a percentage of one core over that window.
#   rss        the tracer's peak RSS (VmHWM), largest over rounds.
#   lost       events the tracer reported lost on stderr ("lost N events"), summed.
#   errs       failed connects of the load generator in traced runs (out of ports, etc.).
#   notes      median 90% CI lo-hi: where the median ratio lies with 90% confidence (bootstrap over
#              the rounds; from 3 rounds on). A tracer whose interval reaches the control's median
#              is not measurably slower than no tracer at all in this run.
#              quiet=q/n: n samples (traced run + its two untraced neighbours), q of them quiet; the
#              columns before use the quiet samples only, or all of them, marked NOISY, when none
#              was quiet. A run is noisy when anything besides the load generator and the tracer
#              used more than --noise % of the machine during it (from /proc/stat minus the CPU
#              loadgen reports and the tracer's), or when another process held BPF programs or
#              links (its hooks slow the untraced runs too). The per-run log shows that "other %"
#              (untraced before / traced / untraced after). For numbers worth quoting, run on a
#              quiet machine: the `none` row is the noise floor.
#
#   The second table, program time, comes from the extra runs with BPF statistics on:
#   prog ns/conn  kernel time in the tracer's BPF programs per connection (run_time_ns over the
#              loadgen's operations), median (min-max) over the runs, each program run's
#              statistics clock reads included (hooks-only, whose programs do nothing, shows
#              what they and the entry cost);
#   runs/conn  program runs per connection (median);
#   % of conn  prog ns/conn over the machine's CPU time per connection in the untraced runs
#              (busy time from /proc/stat over their operations): the share of the storm's CPU
#              the programs take, a finer view than the ratio, without the tracepoints' own
#              calling cost (which the hooks-only ratio shows);
#   per program  the same, program by program (name ns/conn x runs/conn, medians).
#   Nothing is asserted: the numbers are measured side by side and printed.

set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)

ROUNDS=6
DURATION=3
THREADS=2
MODES=tcp-client-close,tcp-server-close,udp
TRACERS=none,hooks-only,connpressure,connpressure-armed,tcplife,tcpstates
CP=$ROOT/.output/connpressure
LOADGEN=$ROOT/.output/loadgen
HOOKFLOOR=$ROOT/.output/hookfloor
JSON=
PROG_RUNS=3	# runs with BPF statistics per tracer and mode
NOISE=5		# % of the machine other processes may use during a run before it counts as noisy

MIN_ATTACH=1		# seconds a tracer (and the untraced run, for symmetry) waits before the load
ATTACH_TIMEOUT=20	# seconds after which a tracer that has not settled counts as failed
DRAIN=0.5		# seconds the tracer keeps running after the load, to process what is queued

# The tracers, in one place:  name  stop-signal  requirement  min-lines  command...
#   requirement: -           always runnable
#                bin         the command's first word must be an executable
#                flag:X      as bin, and `command --help` must mention X
#   min-lines: output lines it must print in the functional check (2 = a header and an event)
#   @CP@ is replaced by --cp, @HOOKFLOOR@ by --hookfloor, @TCPLIFE@ / @TCPSTATES@ by the
#   libbpf-tools binaries.
TRACER_TABLE=(
	"none                TERM  -                    0  sleep infinity"
	"hooks-only          INT   bin                  1  @HOOKFLOOR@"
	"connpressure        INT   bin                  1  @CP@ -o json -i 1"
	"connpressure-armed  INT   flag:--arm-syscalls  1  @CP@ -o json -i 1 --arm-syscalls"
	"tcplife             INT   bin                  2  @TCPLIFE@"
	"tcpstates           INT   bin                  2  @TCPSTATES@"
)

NS_PREFIX="cpbench-$$-"
NS_SEQ=0
TMP=
TRACEFS_MOUNTED=	# set when this script mounted tracefs, which it unmounts at the end
TPID=		# the running tracer, if any
TSIG=INT	# and the signal that stops it
LPID=		# the running load generator, if any
TCPLIFE=
TCPSTATES=
CLK_TCK=$(getconf CLK_TCK)
STATS_WAS=	# kernel.bpf_stats_enabled before we turned it on, to restore

declare -A T_SIG T_REQ T_MIN T_CMD SKIP	# per tracer: the table's columns, and why it is skipped

usage() {
	sed -n '/^# USAGE/,/^# READING/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

die() {
	echo "bench: $*" >&2
	exit 1
}

note() {
	echo "note: $*"
}

# ---- cleanup -----------------------------------------------------------------------------------

# stop_pid PID SIG: SIG, then SIGTERM, then SIGKILL, each with a grace period; reaps PID.
stop_pid() {
	local pid=$1 sig=$2 i

	kill -"$sig" "$pid" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		[ "$i" = 30 ] && kill -TERM "$pid" 2>/dev/null
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

cleanup() {
	local ns

	trap - EXIT INT TERM HUP
	[ -n "$LPID" ] && { kill -KILL "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; }
	[ -n "$TPID" ] && stop_pid "$TPID" "$TSIG"
	[ -n "$STATS_WAS" ] && sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $ns in "$NS_PREFIX"*) ip netns del "$ns" 2>/dev/null ;; esac
	done
	[ -n "$TMP" ] && rm -rf "$TMP"
	[ -n "$TRACEFS_MOUNTED" ] && umount /sys/kernel/tracing 2>/dev/null
}

trap cleanup EXIT
trap 'echo; echo "bench: interrupted, cleaning up" >&2; exit 130' INT TERM HUP

# ---- setup -------------------------------------------------------------------------------------

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--rounds)  ROUNDS=${2:?}; shift ;;
		--seconds) DURATION=${2:?}; shift ;;
		--threads) THREADS=${2:?}; shift ;;
		--modes)   MODES=${2:?}; shift ;;
		--tracers) TRACERS=${2:?}; shift ;;
		--cp)      CP=$(realpath -m "${2:?}"); shift ;;
		--loadgen) LOADGEN=$(realpath -m "${2:?}"); shift ;;
		--hookfloor) HOOKFLOOR=$(realpath -m "${2:?}"); shift ;;
		--json)    JSON=$(realpath -m "${2:?}"); shift ;;
		--noise)   NOISE=${2:?}; shift ;;
		--prog-runs) PROG_RUNS=${2:?}; shift ;;
		-h|--help) usage; exit 0 ;;
		*) usage >&2; die "unknown argument '$1'" ;;
		esac
		shift
	done
	[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer"
	[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "--threads wants a positive integer"
	[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--seconds wants a number"
	[[ $NOISE =~ ^[0-9]+$ ]] || die "--noise wants an integer percentage"
	[[ $PROG_RUNS =~ ^[0-9]+$ ]] || die "--prog-runs wants a non-negative integer"
	local m
	for m in ${MODES//,/ }; do
		case $m in tcp-client-close|tcp-server-close|udp) ;; *) die "unknown mode '$m'" ;; esac
	done
}

# Find a libbpf-tools binary: plain name, libbpf- prefix, or whatever the package installed.
find_libbpf_tool() {
	local name=$1 p

	for p in "$name" "libbpf-$name"; do
		command -v "$p" && return 0
	done
	dpkg -L libbpf-tools 2>/dev/null | grep -E "/(libbpf-)?$name\$" | head -1 | grep . && return 0
	return 1
}

# Classic tracepoints (libbpf-tools) need tracefs to look up event ids.
ensure_tracefs() {
	[ -d /sys/kernel/tracing/events ] || [ -d /sys/kernel/debug/tracing/events ] && return 0
	if mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null; then
		TRACEFS_MOUNTED=1
		note "tracefs was not mounted; mounted it at /sys/kernel/tracing until the end"
	else
		note "tracefs is not mounted and mounting it failed: classic tracepoints will not attach"
	fi
}

resolve_libbpf_tools() {
	local want=0 t

	for t in ${TRACERS//,/ }; do
		case $t in tcplife|tcpstates) want=1 ;; esac
	done
	[ $want = 1 ] || return 0
	if ! find_libbpf_tool tcplife >/dev/null || ! find_libbpf_tool tcpstates >/dev/null; then
		echo "installing libbpf-tools with apt-get ..."
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q libbpf-tools >"$TMP/apt.log" 2>&1 ||
			note "apt-get install libbpf-tools failed: $(tail -1 "$TMP/apt.log")"
	fi
	TCPLIFE=$(find_libbpf_tool tcplife)
	TCPSTATES=$(find_libbpf_tool tcpstates)
	ensure_tracefs
}

# Fill T_SIG/T_REQ/T_CMD from TRACER_TABLE, substituting the placeholders word by word.
load_tracer_table() {
	local line name sig req w
	local -a words cmd

	for line in "${TRACER_TABLE[@]}"; do
		read -ra words <<<"$line"
		name=${words[0]} sig=${words[1]} req=${words[2]}
		T_MIN[$name]=${words[3]}
		cmd=()
		for w in "${words[@]:4}"; do
			case $w in
			@CP@)        w=$CP ;;
			@HOOKFLOOR@) w=$HOOKFLOOR ;;
			@TCPLIFE@)   w=${TCPLIFE:-tcplife} ;;
			@TCPSTATES@) w=${TCPSTATES:-tcpstates} ;;
			esac
			cmd+=("$w")
		done
		T_SIG[$name]=$sig
		T_REQ[$name]=$req
		T_CMD[$name]=$(printf '%q ' "${cmd[@]}")
	done
}

# tracer_cmd NAME: the command of NAME as an array in CMD.
tracer_cmd() {
	eval "CMD=(${T_CMD[$1]})"
}

# Why NAME cannot run (empty when it can).
tracer_unavailable() {
	local name=$1 req bin help

	[ -n "${T_CMD[$name]+x}" ] || { echo "not in TRACER_TABLE"; return; }
	req=${T_REQ[$name]}
	tracer_cmd "$name"
	bin=${CMD[0]}
	[ "$req" = - ] && return
	[ -x "$bin" ] || command -v "$bin" >/dev/null || { echo "binary '$bin' not found"; return; }
	case $req in
	flag:*)
		help=$(timeout 5 "$bin" --help 2>&1)
		[[ $help == *"${req#flag:}"* ]] || echo "'$bin --help' does not mention ${req#flag:}"
		;;
	esac
}

# ---- one run -----------------------------------------------------------------------------------

# A fresh namespace with a wide port range and TIME_WAIT reuse; its name in NS.
make_netns() {
	NS="$NS_PREFIX$((++NS_SEQ))"
	ip netns add "$NS" || die "ip netns add $NS failed"
	ip netns exec "$NS" sh -c 'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range &&
		echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse' || die "setting sysctls in $NS failed"
	ip -n "$NS" link set lo up || die "ip -n $NS link set lo up failed"
}

# cpu_ticks PID: "utime stime" of the whole thread group, in clock ticks.
cpu_ticks() {
	local s
	local -a f

	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	read -ra f <<<"$s"
	echo "${f[11]} ${f[12]}"
}

fd_count() {
	ls "/proc/$1/fd" 2>/dev/null | wc -l
}

# start_tracer NAME OUTFILE: starts it into TPID and waits until it has attached: at least
# MIN_ATTACH seconds, and its number of open fds unchanged over the last 0.3 s. Fails if it exits.
start_tracer() {
	local name=$1 out=$2 n prev=-1 stable=0 i

	tracer_cmd "$name"
	TSIG=${T_SIG[$name]}
	"${CMD[@]}" >"$out" 2>"$TMP/$name.err" &
	TPID=$!
	for i in $(seq $((ATTACH_TIMEOUT * 10))); do
		sleep 0.1
		if ! kill -0 "$TPID" 2>/dev/null; then
			wait "$TPID"
			TPID=
			return 1
		fi
		n=$(fd_count "$TPID")
		if [ "$n" = "$prev" ]; then stable=$((stable + 1)); else stable=0; fi
		prev=$n
		[ $i -ge $((MIN_ATTACH * 10)) ] && [ $stable -ge 3 ] && return 0
	done
	echo "did not settle within ${ATTACH_TIMEOUT}s" >>"$TMP/$name.err"
	stop_pid "$TPID" "${T_SIG[$name]}"
	TPID=
	return 1
}

# run_load MODE SECONDS: loadgen in a fresh netns; sets RATE OPS ERRS, LG_SECS (its wall time) and
# LG_CPU (its CPU seconds), or returns 1.
run_load() {
	local mode=$1 secs=$2 line rc

	RATE='' OPS='' ERRS='' LG_SECS='' LG_CPU=0
	"${NETNS_CMD[@]}" "$LOADGEN" --mode "$mode" --threads "$THREADS" --seconds "$secs" \
		>"$TMP/load.out" 2>"$TMP/load.err" &
	LPID=$!
	wait "$LPID"
	rc=$?
	LPID=
	line=$(tail -1 "$TMP/load.out")
	if [ $rc != 0 ] ||
	   ! [[ $line =~ rate=([0-9.]+)\ ops=([0-9]+)\ seconds=([0-9.]+)\ errors=([0-9]+)(\ user=([0-9.]+)\ sys=([0-9.]+))? ]]; then
		echo "bench: loadgen failed (rc=$rc): $(tail -2 "$TMP/load.err")" >&2
		return 1
	fi
	RATE=${BASH_REMATCH[1]} OPS=${BASH_REMATCH[2]} LG_SECS=${BASH_REMATCH[3]} ERRS=${BASH_REMATCH[4]}
	[ -n "${BASH_REMATCH[5]}" ] && LG_CPU=$(awk -v u="${BASH_REMATCH[6]}" -v s="${BASH_REMATCH[7]}" 'BEGIN { print u + s }')
	return 0
}

# busy_ticks: CPU ticks the whole machine spent not idle (user nice system irq softirq steal).
busy_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# foreign_bpf: "comm:pid" of processes holding BPF programs or links that are neither ours nor
# pid 1 — another tracer (or a test of one) running beside the benchmark skews both sides of it.
foreign_bpf() {
	local pid comm

	for pid in $(find /proc/[0-9]*/fd -lname 'anon_inode:bpf*' 2>/dev/null | cut -d/ -f3 | sort -un); do
		[ "$pid" = 1 ] || [ "$pid" = "$$" ] || [ "$pid" = "${TPID:-x}" ] && continue
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
		printf '%s:%s ' "$comm" "$pid"
	done
}

# measure MODE TRACER|"": one run; sets RATE OPS ERRS, and for a tracer UT ST (ticks), HWM (kB),
# LOST (events it said it lost). OTHER is the % of the machine used during the load by anything but
# the load generator and the tracer, FOREIGN the other BPF users seen; QUIET=1 when both are clear.
# Returns 1 if the run is unusable (reason in FAIL).
measure() {
	local mode=$1 tracer=$2 before=0 mid=0 after b0 b1 rc=0

	UT=0 ST=0 HWM=0 LOST=0 FAIL='' OTHER=0 FOREIGN='' QUIET=1 CPU_OP=0
	make_netns
	NETNS_CMD=(ip netns exec "$NS")
	if [ -n "$tracer" ]; then
		if ! start_tracer "$tracer" /dev/null; then
			FAIL="failed to start: $(tail -1 "$TMP/$tracer.err")"
			ip netns del "$NS"
			return 1
		fi
		before=$(cpu_ticks "$TPID")
	else
		sleep "$MIN_ATTACH"
	fi
	FOREIGN=$(foreign_bpf)
	b0=$(busy_ticks)
	run_load "$mode" "$DURATION" || { rc=1; FAIL="loadgen failed"; }
	b1=$(busy_ticks)
	[ -n "$tracer" ] && mid=$(cpu_ticks "$TPID")
	[ -z "$FOREIGN" ] && FOREIGN=$(foreign_bpf)
	if [ $rc = 0 ]; then
		OTHER=$(awk -v b="$(( b1 - b0 ))" -v hz="$CLK_TCK" -v lg="$LG_CPU" -v t0="$before" -v t1="$mid" \
			-v n="$(nproc)" -v secs="$LG_SECS" 'BEGIN {
			split(t0, x, " "); split(t1, y, " ")
			o = (b - (y[1] + y[2] - x[1] - x[2])) / hz - lg
			printf "%.0f", o < 0 ? 0 : 100 * o / (n * secs) }')
		[ "$OTHER" -le "$NOISE" ] && [ -z "$FOREIGN" ] || QUIET=0
		# The whole machine's CPU per connection (tracer included): what a connection costs.
		CPU_OP=$(awk -v b="$(( b1 - b0 ))" -v o="$OPS" 'BEGIN { printf "%.9f", (o ? b / o : 0) }')
		if [ -z "$tracer" ]; then	# the machine's CPU per connection, untraced
			U_BUSY[$mode]=$(( ${U_BUSY[$mode]:-0} + b1 - b0 ))
			U_OPS[$mode]=$(( ${U_OPS[$mode]:-0} + OPS ))
		fi
	fi
	if [ -n "$tracer" ]; then
		sleep "$DRAIN"
		after=$(cpu_ticks "$TPID") || { rc=1; FAIL="tracer exited during the run: $(tail -1 "$TMP/$tracer.err")"; }
		if [ $rc = 0 ]; then
			read -r UT ST <<<"$(awk -v b="$before" -v a="$after" \
				'BEGIN { split(b, x, " "); split(a, y, " "); print y[1] - x[1], y[2] - x[2] }')"
			HWM=$(awk '/^VmHWM:/ { print $2 }' "/proc/$TPID/status" 2>/dev/null)
			HWM=${HWM:-0}
		fi
		stop_pid "$TPID" "${T_SIG[$tracer]}"
		TPID=
		LOST=$(awk '{ for (i = 1; i < NF; i++) if ($i == "lost" && $(i + 1) ~ /^[0-9]+$/) s += $(i + 1) }
			END { print s + 0 }' "$TMP/$tracer.err")
	fi
	ip netns del "$NS"
	return $rc
}

# prog_ids PID: ids of the BPF programs PID holds (as program fds or through links).
prog_ids() {
	cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -un | tr '\n' ' '
}

# prog_stats "IDS": "id name run_time_ns run_cnt" for each of those programs.
prog_stats() {
	bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
ids = set(int(i) for i in sys.argv[1].split())
for p in json.load(sys.stdin):
    if p.get("id") in ids:
        print(p["id"], p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0))' "$1"
}

# measure_prog_time MODE TRACER: one traced run with BPF statistics on; sets PT_NS PT_RUNS (per
# connection) and PT_DETAIL ("name ns runs" per program, ';'-separated), or returns 1 (FAIL).
measure_prog_time() {
	local mode=$1 tracer=$2 ids s0 s1 rc=0

	PT_NS='' PT_RUNS='' PT_DETAIL='' FAIL=''
	make_netns
	NETNS_CMD=(ip netns exec "$NS")
	if ! start_tracer "$tracer" /dev/null; then
		FAIL="failed to start: $(tail -1 "$TMP/$tracer.err")"
		ip netns del "$NS"
		return 1
	fi
	ids=$(prog_ids "$TPID")
	if [ -n "$ids" ]; then
		sysctl -qw kernel.bpf_stats_enabled=1
		s0=$(prog_stats "$ids")
		run_load "$mode" "$DURATION" || { rc=1; FAIL="loadgen failed"; }
		s1=$(prog_stats "$ids")
		sysctl -qw kernel.bpf_stats_enabled="$STATS_WAS"
	else
		rc=1 FAIL="holds no BPF programs"
	fi
	stop_pid "$TPID" "${T_SIG[$tracer]}"
	TPID=
	ip netns del "$NS"
	[ $rc = 0 ] || return 1
	read -r PT_NS PT_RUNS PT_DETAIL < <(python3 -c '
import sys
ops = int(sys.argv[3])
before = {l.split()[0]: l.split() for l in sys.argv[1].splitlines()}
ns = runs = 0
parts = []
for l in sys.argv[2].splitlines():
    i, name, t, c = l.split()
    b = before.get(i, [i, name, "0", "0"])
    dt, dc = int(t) - int(b[2]), int(c) - int(b[3])
    ns += dt
    runs += dc
    if dc:
        parts.append("%s %.0f %.2f" % (name, dt / ops, dc / ops))
print("%.0f %.2f %s" % (ns / ops, runs / ops, ";".join(parts) or "-"))' "$s0" "$s1" "$OPS")
}

# check_tracer NAME: does the tracer start, survive 1 s of load, and print its min-lines?
check_tracer() {
	local name=$1 lines

	make_netns
	NETNS_CMD=(ip netns exec "$NS")
	if ! start_tracer "$name" "$TMP/$name.out"; then
		SKIP[$name]="failed to start: $(grep -v '^$' "$TMP/$name.err" | tail -1)"
		ip netns del "$NS"
		return 1
	fi
	run_load tcp-client-close 1
	sleep "$DRAIN"
	if ! kill -0 "$TPID" 2>/dev/null; then
		SKIP[$name]="exited under load: $(grep -v '^$' "$TMP/$name.err" | tail -1)"
	fi
	stop_pid "$TPID" "${T_SIG[$name]}"
	TPID=
	ip netns del "$NS"
	[ -n "${SKIP[$name]+x}" ] && return 1
	lines=$(wc -l <"$TMP/$name.out")
	rm -f "$TMP/$name.out"
	if [ "$lines" -lt "${T_MIN[$name]}" ]; then
		SKIP[$name]="printed $lines line(s) for ${OPS:-?} connections: not seeing events? (stderr: $(tail -1 "$TMP/$name.err"))"
		return 1
	fi
	echo "check: $name ok (attached, $lines output lines for ${OPS:-?} connections)"
}

# preflight NAME: check_tracer, tried twice (a busy machine can make one attempt fail).
preflight() {
	check_tracer "$1" && return 0
	note "check of $1 failed (${SKIP[$1]}); trying once more"
	unset "SKIP[$1]"
	check_tracer "$1"
}

# ---- statistics and report ---------------------------------------------------------------------

declare -A RATIOS TRATES URATES QRATIOS QTRATES QURATES SUM_UT SUM_ST SUM_OPS MAX_HWM SUM_LOST \
	SUM_ERRS FAILS COSTS QCOSTS
declare -A U_BUSY U_OPS		# per mode: busy ticks and operations of the untraced runs
declare -A PT_SETS	# per tracer|mode: one line "ns runs detail" per program-time run
declare -A PT_NS_OF PT_MIN_OF PT_MAX_OF PT_RUNS_OF PT_DETAIL_OF	# and their medians

# summarize_prog_time KEY: PT_*_OF[KEY] from PT_SETS[KEY]: medians of the total, the runs and
# each program's time and runs, and the total's min and max.
summarize_prog_time() {
	local k=$1

	read -r PT_NS_OF[$k] PT_MIN_OF[$k] PT_MAX_OF[$k] PT_RUNS_OF[$k] PT_DETAIL_OF[$k] < <(
		printf '%s' "${PT_SETS[$k]}" | python3 -c '
import statistics, sys
tot, runs, progs = [], [], {}
for line in sys.stdin.read().splitlines():
    f = line.split(" ", 2)
    tot.append(float(f[0]))
    runs.append(float(f[1]))
    for part in f[2].split(";") if len(f) > 2 and f[2] != "-" else []:
        name, ns, r = part.split()
        progs.setdefault(name, ([], []))
        progs[name][0].append(float(ns))
        progs[name][1].append(float(r))
med = statistics.median
detail = ";".join("%s %.0f %.2f" % (n, med(v[0]), med(v[1])) for n, v in progs.items())
print("%.0f %.0f %.0f %.2f %s" % (med(tot), min(tot), max(tot), med(runs), detail or "-"))')
}
declare -A FOREIGN_SEEN=() FOREIGN_PIDS=()	# command name -> processes seen; comm:pid -> 1

# stats "v1 v2 ...": "median min max"
stats() {
	echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (!NR) { print "nan nan nan"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			print m, v[1], v[NR]
		}'
}

# median_ci "V1 V2 ...": "LO HI", a 90% interval for the median (bootstrap, 4,000 resamples, fixed
# seed so that a run's report is reproducible). One round's ratio varies by several % here, so
# the median of a few rounds moves by more than the 1-2% a hook costs: this says by how much.
median_ci() {
	python3 -c '
import random, statistics, sys
v = [float(x) for x in sys.argv[1].split()]
if len(v) < 3:
    print("nan nan")
    sys.exit()
rng = random.Random(1)
m = sorted(statistics.median(rng.choices(v, k=len(v))) for _ in range(4000))
print("%.3f %.3f" % (m[200], m[3799]))' "$1"
}

# record TRACER MODE UNTRACED_REF QUIET UNTRACED_CPU_REF: one sample (a traced run and its two
# untraced neighbours; the references are their means).
record() {
	local k="$1|$2" ratio cost

	ratio=$(awk -v t="$RATE" -v u="$3" 'BEGIN { printf "%.4f", t / u }')
	cost=$(awk -v t="$CPU_OP" -v u="$5" 'BEGIN { printf "%.4f", (u > 0 ? t / u : 0) }')
	RATIOS[$k]+="$ratio "
	COSTS[$k]+="$cost "
	TRATES[$k]+="$RATE "
	URATES[$k]+="$3 "
	if [ "$4" = 1 ]; then
		QRATIOS[$k]+="$ratio "
		QCOSTS[$k]+="$cost "
		QTRATES[$k]+="$RATE "
		QURATES[$k]+="$3 "
	fi
	SUM_UT[$k]=$(( ${SUM_UT[$k]:-0} + UT ))
	SUM_ST[$k]=$(( ${SUM_ST[$k]:-0} + ST ))
	SUM_OPS[$k]=$(( ${SUM_OPS[$k]:-0} + OPS ))
	SUM_LOST[$k]=$(( ${SUM_LOST[$k]:-0} + LOST ))
	SUM_ERRS[$k]=$(( ${SUM_ERRS[$k]:-0} + ERRS ))
	[ "$HWM" -gt "${MAX_HWM[$k]:-0}" ] && MAX_HWM[$k]=$HWM
}

# conn_cpu_ns MODE: the machine's CPU time per connection in the untraced runs, in ns.
conn_cpu_ns() {
	awk -v b="${U_BUSY[$1]:-0}" -v o="${U_OPS[$1]:-0}" -v hz="$CLK_TCK" \
		'BEGIN { printf "%.0f", o ? b / hz * 1e9 / o : 0 }'
}

# prog_json TRACER MODE: the program-time fields of a JSON object (empty without that run).
prog_json() {
	local k="$1|$2"

	[ -n "${PT_NS_OF[$k]:-}" ] || return 0
	printf ', "untraced_cpu_ns_per_conn": %s, "prog_samples": %d, "prog_ns_per_conn": %s, "prog_ns_min": %s, "prog_ns_max": %s, "prog_runs_per_conn": %s, "programs": [%s]' \
		"$(conn_cpu_ns "$2")" "$(printf '%s' "${PT_SETS[$k]}" | grep -c .)" "${PT_NS_OF[$k]}" \
		"${PT_MIN_OF[$k]}" "${PT_MAX_OF[$k]}" "${PT_RUNS_OF[$k]}" \
		"$(echo "${PT_DETAIL_OF[$k]}" | tr ';' '\n' | awk 'NF == 3 {
			printf "%s{\"name\": \"%s\", \"ns_per_conn\": %s, \"runs_per_conn\": %s}", (NR > 1 ? ", " : ""), $1, $2, $3 }')"
}

# The program-time table (see READING THE OUTPUT).
report_prog_time() {
	local mode t k cpu any=0

	for k in "${!PT_NS_OF[@]}"; do any=1; done
	[ $any = 1 ] || return 0
	printf '\nprogram time: %s more runs per tracer with kernel.bpf_stats_enabled=1\n' "$PROG_RUNS"
	printf '%-17s %-19s %18s %9s %9s  %s\n' mode tracer "prog ns/conn" runs/conn "% of conn" \
		"per program: ns/conn x runs/conn"
	for mode in ${MODES//,/ }; do
		cpu=$(conn_cpu_ns "$mode")
		for t in ${RUN_TRACERS[@]+"${RUN_TRACERS[@]}"}; do
			k="$t|$mode"
			[ -n "${PT_NS_OF[$k]:-}" ] || continue
			printf '%-17s %-19s %18s %9s %9s  %s\n' "$mode" "$t" \
				"${PT_NS_OF[$k]} (${PT_MIN_OF[$k]}-${PT_MAX_OF[$k]})" "${PT_RUNS_OF[$k]}" \
				"$(awk -v p="${PT_NS_OF[$k]}" -v c="$cpu" 'BEGIN { if (c) printf "%.2f%%", 100 * p / c; else print "-" }')" \
				"$(echo "${PT_DETAIL_OF[$k]}" | tr ';' '\n' | awk 'NF == 3 { printf "%s%s %s x %s", (NR > 1 ? ", " : ""), $1, $2, $3 }')"
		done
		printf '%-17s %-19s untraced, the whole machine: %s ns of CPU per connection\n' "$mode" "-" "$cpu"
	done
}

report() {
	local mode t k r rmin rmax tr ur n q usr sys pct ratios trates urates qnote c ci_lo ci_hi first=1
	local costs cost cost_lo cost_hi

	printf '\n%-17s %-19s %-17s %8s %9s %10s %7s %7s %6s %8s %7s %6s  %s\n' mode tracer "ratio (min-max)" \
		cpu/conn traced/s untraced/s usr/1k sys/1k cpu% rss lost errs notes
	[ -n "$JSON" ] && echo '[' >"$JSON"
	for mode in ${MODES//,/ }; do
		for t in ${RUN_TRACERS[@]+"${RUN_TRACERS[@]}"}; do
			k="$t|$mode"
			if [ -z "${RATIOS[$k]:-}" ]; then
				printf '%-17s %-19s %-17s  %s\n' "$mode" "$t" "-" "no valid run ${FAILS[$k]:-}"
				continue
			fi
			n=$(echo ${RATIOS[$k]} | wc -w)
			q=$(echo ${QRATIOS[$k]:-} | wc -w)
			if [ "$q" -gt 0 ]; then	# quiet samples only
				ratios=${QRATIOS[$k]} trates=${QTRATES[$k]} urates=${QURATES[$k]} qnote="quiet=$q/$n"
				costs=${QCOSTS[$k]}
			else
				ratios=${RATIOS[$k]} trates=${TRATES[$k]} urates=${URATES[$k]} qnote="quiet=0/$n NOISY"
				costs=${COSTS[$k]}
			fi
			read -r r rmin rmax <<<"$(stats "$ratios")"
			read -r ci_lo ci_hi <<<"$(median_ci "$ratios")"
			[ "$ci_lo" = nan ] || qnote="median 90% CI $ci_lo-$ci_hi, $qnote"
			read -r cost _ _ <<<"$(stats "$costs")"
			read -r cost_lo cost_hi <<<"$(median_ci "$costs")"
			[ "$cost_lo" = nan ] || qnote="$qnote, cpu/conn CI $cost_lo-$cost_hi"
			read -r tr _ _ <<<"$(stats "$trates")"
			read -r ur _ _ <<<"$(stats "$urates")"
			# ticks -> ms per 1,000 ops; cpu% over n * (DURATION + DRAIN) seconds
			read -r usr sys pct <<<"$(awk -v u="${SUM_UT[$k]}" -v s="${SUM_ST[$k]}" -v o="${SUM_OPS[$k]}" \
				-v hz="$CLK_TCK" -v n="$n" -v d="$DURATION" -v dr="$DRAIN" 'BEGIN {
				ms = 1000 / hz
				printf "%.3f %.3f %.1f", u * ms * 1000 / o, s * ms * 1000 / o,
					100 * (u + s) / hz / (n * (d + dr)) }')"
			printf '%-17s %-19s %-17s %8.3f %9.0f %10.0f %7s %7s %6s %6.1fMB %7s %6s  %s\n' "$mode" "$t" \
				"$(printf '%.2f (%.2f-%.2f)' "$r" "$rmin" "$rmax")" "$cost" "$tr" "$ur" "$usr" "$sys" "$pct" \
				"$(awk -v h="${MAX_HWM[$k]}" 'BEGIN { print h / 1024 }')" "${SUM_LOST[$k]}" \
				"${SUM_ERRS[$k]}" "$qnote ${FAILS[$k]:-}"
			if [ -n "$JSON" ]; then
				[ $first = 1 ] || echo ',' >>"$JSON"
				first=0
				printf '  {"mode": "%s", "tracer": "%s", "samples": %d, "quiet_samples": %d, "ratio_median": %s, "ratio_median_ci90": [%s], "ratio_min": %s, "ratio_max": %s, "ratios_used": [%s], "ratios_all": [%s], "cpu_per_conn_ratio_median": %s, "cpu_per_conn_ratio_ci90": [%s], "cpu_per_conn_ratios_used": [%s], "traced_rate_median": %s, "untraced_rate_median": %s, "user_ms_per_1k": %s, "sys_ms_per_1k": %s, "cpu_pct_core": %s, "peak_rss_kb": %d, "lost_events": %d, "loadgen_errors": %d' \
					"$mode" "$t" "$n" "$q" "$r" \
					"$([ "$ci_lo" = nan ] || echo "$ci_lo, $ci_hi")" "$rmin" "$rmax" "$(echo $ratios | tr ' ' ',')" \
					"$(echo ${RATIOS[$k]} | tr ' ' ',')" \
					"$cost" "$([ "$cost_lo" = nan ] || echo "$cost_lo, $cost_hi")" "$(echo $costs | tr ' ' ',')" \
					"$tr" "$ur" "$usr" "$sys" "$pct" "${MAX_HWM[$k]}" "${SUM_LOST[$k]}" \
					"${SUM_ERRS[$k]}" >>"$JSON"
				prog_json "$t" "$mode" >>"$JSON"
				printf '}' >>"$JSON"
			fi
		done
	done
	for t in ${SKIPPED[@]+"${SKIPPED[@]}"}; do
		printf '%-17s %-19s skipped: %s\n' "*" "$t" "${SKIP[$t]}"
		if [ -n "$JSON" ]; then
			[ $first = 1 ] || echo ',' >>"$JSON"
			first=0
			printf '  {"tracer": "%s", "skipped": "%s"}' "$t" "$(echo "${SKIP[$t]}" | sed 's/["\\]/\\&/g')" >>"$JSON"
		fi
	done
	report_prog_time
	if [ -n "$JSON" ]; then
		printf '\n]\n' >>"$JSON"
		echo "wrote $JSON"
	fi
	if [ ${#FOREIGN_SEEN[@]} -gt 0 ]; then
		echo "warning: other BPF users ran during the benchmark:" \
			"$(for c in "${!FOREIGN_SEEN[@]}"; do printf '%s (%s processes) ' "$c" "${FOREIGN_SEEN[$c]}"; done)"
		echo "         (their hooks slow the untraced runs too; samples beside them are not quiet)"
	fi
}

# ---- main --------------------------------------------------------------------------------------

# note_foreign: tell once per command name about other BPF users; count their processes.
note_foreign() {
	local p comm

	for p in $FOREIGN; do
		comm=${p%:*}
		[ -n "${FOREIGN_PIDS[$p]+x}" ] && continue
		FOREIGN_PIDS[$p]=1
		[ -z "${FOREIGN_SEEN[$comm]+x}" ] && note "another BPF user is running: $comm (pid ${p##*:})"
		FOREIGN_SEEN[$comm]=$(( ${FOREIGN_SEEN[$comm]:-0} + 1 ))
	done
}

main() {
	local t mode round i j ntr u_prev u_next u_prev_quiet u_prev_other
	local -a order

	parse_args "$@"
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, BPF)"
	TMP=$(mktemp -d /tmp/cpbench.XXXXXX)
	if [ ! -x "$LOADGEN" ]; then
		make -C "$ROOT" -s .output/loadgen >&2 && LOADGEN=$ROOT/.output/loadgen ||
			die "no load generator at $LOADGEN and make .output/loadgen failed"
	fi
	if [ ! -x "$HOOKFLOOR" ] && [[ ,$TRACERS, == *,hooks-only,* ]]; then
		make -C "$ROOT" -s .output/hookfloor >&2 && HOOKFLOOR=$ROOT/.output/hookfloor ||
			note "make .output/hookfloor failed: hooks-only will be skipped"
	fi
	STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
	[ "$STATS_WAS" = 0 ] ||
		note "kernel.bpf_stats_enabled is on: every BPF program run pays for statistics (ratios too)"
	resolve_libbpf_tools
	# Pin the build: connpressure may be rebuilt while this runs; every round uses this copy.
	if [ -x "$CP" ]; then
		echo "connpressure: $CP, built $(date -r "$CP" '+%F %T'), copied for this run"
		cp "$CP" "$TMP/connpressure" && CP=$TMP/connpressure
	fi
	load_tracer_table

	RUN_TRACERS=() SKIPPED=()
	for t in ${TRACERS//,/ }; do
		SKIP[$t]=$(tracer_unavailable "$t")
		[ -z "${SKIP[$t]}" ] && unset "SKIP[$t]"
		[ -n "${SKIP[$t]+x}" ] || preflight "$t" || true
		if [ -n "${SKIP[$t]+x}" ]; then
			note "skipping $t: ${SKIP[$t]}"
			SKIPPED+=("$t")
		else
			RUN_TRACERS+=("$t")
		fi
	done
	ntr=${#RUN_TRACERS[@]}
	[ "$ntr" -gt 0 ] || die "no tracer can run"

	echo "kernel $(uname -r), $(nproc) cpus; loadgen --threads $THREADS --seconds $DURATION;" \
		"$ROUNDS rounds, modes $MODES"
	for t in "${RUN_TRACERS[@]}"; do
		printf '  %-19s %s\n' "$t" "${T_CMD[$t]}"
	done

	for mode in ${MODES//,/ }; do
		echo "== $mode: $((ROUNDS * ntr * 2 + 1)) runs"
		measure "$mode" "" || die "untraced run failed"
		u_prev=$RATE u_prev_quiet=$QUIET u_prev_other=$OTHER u_prev_cpu=$CPU_OP
		note_foreign
		printf '  untraced %8.0f/s  other %s%%\n' "$RATE" "$OTHER"
		for round in $(seq "$ROUNDS"); do
			order=()
			for i in $(seq 0 $((ntr - 1))); do
				j=$(( (i + round - 1) % ntr ))
				order+=("${RUN_TRACERS[$j]}")
			done
			for t in "${order[@]}"; do
				local ok=1 quiet trate tops terrs tut tst thwm tlost tquiet tother tcpu
				measure "$mode" "$t" || ok=0
				note_foreign
				trate=$RATE tops=$OPS terrs=$ERRS tut=$UT tst=$ST thwm=$HWM tlost=$LOST
				tquiet=$QUIET tother=$OTHER tcpu=$CPU_OP
				[ $ok = 1 ] || FAILS["$t|$mode"]+="[round $round: $FAIL] "
				measure "$mode" "" || die "untraced run failed"
				note_foreign
				u_next=$RATE u_next_cpu=$CPU_OP
				if [ $ok = 1 ]; then
					quiet=$((u_prev_quiet & tquiet & QUIET))
					RATE=$trate OPS=$tops ERRS=$terrs UT=$tut ST=$tst HWM=$thwm LOST=$tlost CPU_OP=$tcpu
					record "$t" "$mode" "$(awk -v a="$u_prev" -v b="$u_next" 'BEGIN { print (a + b) / 2 }')" $quiet \
						"$(awk -v a="$u_prev_cpu" -v b="$u_next_cpu" 'BEGIN { printf "%.9f", (a + b) / 2 }')"
					printf '  round %d %-19s %8.0f/s  ratio %.3f  (untraced %.0f, %.0f)  cpu/conn %.3f  other %s/%s/%s%%%s\n' \
						"$round" "$t" "$trate" "$(awk -v t="$trate" -v a="$u_prev" -v b="$u_next" \
						'BEGIN { print 2 * t / (a + b) }')" "$u_prev" "$u_next" \
						"$(awk -v t="$tcpu" -v a="$u_prev_cpu" -v b="$u_next_cpu" \
						'BEGIN { print ((a + b) > 0 ? 2 * t / (a + b) : 0) }')" \
						"$u_prev_other" "$tother" "$OTHER" "$([ $quiet = 1 ] || echo '  NOISY')"
				else
					printf '  round %d %-19s FAILED: %s\n' "$round" "$t" "$FAIL"
				fi
				u_prev=$u_next u_prev_quiet=$QUIET u_prev_other=$OTHER u_prev_cpu=$u_next_cpu
			done
		done
		for round in $(seq "$PROG_RUNS"); do
			for t in "${RUN_TRACERS[@]}"; do
				[ "$t" = none ] && continue
				if measure_prog_time "$mode" "$t"; then
					PT_SETS["$t|$mode"]+="$PT_NS $PT_RUNS $PT_DETAIL"$'\n'
					printf '  program time %d %-19s %6s ns/conn, %s runs/conn\n' "$round" "$t" \
						"$PT_NS" "$PT_RUNS"
				else
					printf '  program time %d %-19s -: %s\n' "$round" "$t" "$FAIL"
				fi
			done
		done
		for t in "${RUN_TRACERS[@]}"; do
			[ -n "${PT_SETS["$t|$mode"]:-}" ] && summarize_prog_time "$t|$mode"
		done
	done
	report
}

main "$@"
