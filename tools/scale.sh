#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scale.sh: connpressure's start-up time and scale limits, measured on real sockets.
#
#   sudo tools/scale.sh [startup|scale|all]          (default: all; run `make` first)
#
# startup  SU_NS namespaces (default 20), each filled by tools/sockfill with SU_LIVE idle
#          loopback connections (default 2500 = 5000 sockets; 100,000 sockets in all) plus
#          SU_TW connections left in TIME_WAIT (default 125). Then, SU_RUNS times (default 5),
#          the time from exec of `connpressure --once -o json` to its output and to its exit,
#          and SU_STREAM_RUNS times (default 3) the time to the first line of
#          `connpressure -o json -i 1`, kept running SU_STREAM_SECONDS (default 12: one
#          TIME_WAIT correction pass included) for its CPU per interval. Every first output is checked against `ss -tanH` in
#          each namespace: the sum of the destinations' in_use must equal the sockets whose
#          local port lies in the ephemeral range (the connect() side). SU_EMPTY_NS (default 0)
#          more namespaces, empty, show how the start-up cost grows with namespaces alone.
# scale    SC_NS namespaces (default 1) holding SC_CONNS connections in all (default 500,000 =
#          1,000,000 sockets) over SC_PORTS x SC_ADDRS destinations per namespace (default
#          100 x 1000 = 100,000: listener ports 200.., addresses 127.0.X.Y). connpressure
#          streams at 1 s for SC_SECONDS (default 30) with the default map sizes, then with
#          SC_RAISED (SC_PREFILLED=0 skips these two). Then (SC_LIVE=1, default), with the default sizes and with SC_RAISED,
#          it is started first and the same fill is made while it runs; SC_LIVE_HOLD s (20)
#          after the fill is ready the output is checked against ss and the fill is killed
#          (1M sockets close: TIME_WAIT, FIN/LAST_ACK churn); SC_LIVE_AFTER s (30) later the
#          last output is checked again. Measured: time to the first line, VmHWM, CPU per interval
#          (utime+stime deltas), bytes_memlock of its maps (bpftool), the slab growth while it
#          runs (sk_storage is not in bytes_memlock), destinations shown, lost.*, and the
#          totals against ss.
#
# Namespaces are named cpscale-<pid>-*, get the port range 1024-65535 and a raised
# tcp_max_tw_buckets, and are removed, with every process started here, on any exit
# (Ctrl-C included). Every step is bounded in time. Results: a summary on stdout and the
# raw per-run JSON in $SCALE_OUT (default /tmp/cpscale-results.<pid>.jsonl).
set -u
set -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CP=${CP:-$ROOT/.output/connpressure}
SOCKFILL=${SOCKFILL:-$ROOT/.output/sockfill}
WHAT=${1:-all}

SU_NS=${SU_NS:-20}
SU_LIVE=${SU_LIVE:-2500}
SU_TW=${SU_TW:-125}
SU_RUNS=${SU_RUNS:-5}
SU_STREAM_RUNS=${SU_STREAM_RUNS:-3}
SU_EMPTY_NS=${SU_EMPTY_NS:-0}
SU_STREAM_SECONDS=${SU_STREAM_SECONDS:-12}
SC_NS=${SC_NS:-1}
SC_CONNS=${SC_CONNS:-500000}
SC_PORTS=${SC_PORTS:-100}
SC_ADDRS=${SC_ADDRS:-1000}
SC_SECONDS=${SC_SECONDS:-30}
SC_RAISED=${SC_RAISED:---max-dests 262144 --max-holders 1048576 --max-tw 1048576 --max-binds 65536 --sock-slots 1048576}
SC_PREFILLED=${SC_PREFILLED:-1}
SC_LIVE=${SC_LIVE:-1}
SC_LIVE_DELAY=${SC_LIVE_DELAY:-3}
SC_LIVE_HOLD=${SC_LIVE_HOLD:-20}
SC_LIVE_AFTER=${SC_LIVE_AFTER:-30}
FILL_TIMEOUT=${FILL_TIMEOUT:-600}
SCALE_OUT=${SCALE_OUT:-/tmp/cpscale-results.$$.jsonl}

PREFIX=cpscale-$$
TMP=$(mktemp -d /tmp/cpscale.XXXXXX)
NAMESPACES=()
FILL_PIDS=()
HOLD_FD=
MEASURE_PID=
MEASURE_EXTRA=()

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Stop the fills (stdin EOF, then signals), then remove the namespaces.
stop_fills() {
	local pid deadline
	if [ -n "$HOLD_FD" ]; then
		eval "exec $HOLD_FD>&-"
		HOLD_FD=
	fi
	for pid in "${FILL_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	deadline=$((SECONDS + 120))
	for pid in "${FILL_PIDS[@]}"; do
		while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	FILL_PIDS=()
}

del_namespaces() {
	local ns
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	NAMESPACES=()
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$MEASURE_PID" ]; then
		kill -TERM "$MEASURE_PID" 2>/dev/null	# timeout passes it on to the harness
		wait "$MEASURE_PID" 2>/dev/null
	fi
	stop_fills
	del_namespaces
	rm -rf "$TMP"
	left=$(ip netns list 2>/dev/null | grep -c "^$PREFIX-")
	[ "$left" -eq 0 ] || log "warning: $left namespaces $PREFIX-* left behind"
	exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# After each scenario: nothing of ours may survive.
check_clean() {
	local ns_left fills cps=0 pid
	ns_left=$(ip netns list | grep -c "^$PREFIX-")
	fills=$(pgrep -x sockfill | wc -l)
	if [ -f "$TMP/cp.pids" ]; then
		while read -r pid; do
			kill -0 "$pid" 2>/dev/null && cps=$((cps + 1))
		done <"$TMP/cp.pids"
	fi
	printf '  leftovers: namespaces %s-*: %s, sockfill processes: %s, connpressure started here: %s alive (others running connpressure now: %s)\n' \
		"$PREFIX" "$ns_left" "$fills" "$cps" "$(pgrep -x connpressure | wc -l)"
}

[ "$(id -u)" -eq 0 ] || die "run as root"
[ -x "$CP" ] || die "$CP missing: run make"
[ -x "$SOCKFILL" ] || die "$SOCKFILL missing: make .output/sockfill"
command -v python3 >/dev/null || die "python3 missing"
command -v bpftool >/dev/null || die "bpftool missing"
case "$WHAT" in startup|scale|all) ;; *) die "usage: $0 [startup|scale|all]";; esac

# ---- the measuring harness (Python: line timing, /proc sampling, JSON checks) ----------------
cat >"$TMP/measure.py" <<'PY'
import json, os, re, select, signal, subprocess, sys, time
from collections import Counter

HZ = os.sysconf("SC_CLK_TCK")

def port_range(ns):
    r = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/sys/net/ipv4/ip_local_port_range"],
                       capture_output=True, text=True, timeout=30)
    lo, hi = r.stdout.split()
    return int(lo), int(hi)

def truth(ns):
    """connect()-side sockets per destination in ns, from ss: local port in the range."""
    lo, hi = port_range(ns)
    out = subprocess.run(["ip", "netns", "exec", ns, "ss", "-tanH"], capture_output=True,
                         text=True, timeout=300).stdout
    per, states = Counter(), Counter()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 5 or f[0] == "LISTEN":
            continue
        la, lp = f[3].rsplit(":", 1)
        pa, pp = f[4].rsplit(":", 1)
        if not lo <= int(lp) <= hi:
            continue
        per[(la.strip("[]"), pa.strip("[]"), int(pp))] += 1
        states[f[0]] += 1
    return {"total": sum(per.values()), "per": per, "states": dict(states)}

def truths(nslist):
    return {ns: truth(ns) for ns in nslist}

def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]), int(fields[12])  # utime, stime (ticks)

def proc_mem(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmHWM", "VmRSS")):
                k, v = line.split(":")
                out[k] = int(v.split()[0])
    return out

def slab_kb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("SUnreclaim:"):
                return int(line.split()[1])
    return 0

MAP_NAMES = {"dest_stats", "holder_ports", "tw_socks", "bind_ports", "failures", "sock_state", "sock_slots",
             "events", "counters"}

def maps_of(pid):
    ids = set()
    d = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(d):
        try:
            with open(f"{d}/{fd}") as f:
                for line in f:
                    if line.startswith("map_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    out = subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True, text=True,
                         timeout=60).stdout
    res = {}
    for m in json.loads(out or "[]"):
        if m.get("id") in ids and m.get("name", "")[:15] in {n[:15] for n in MAP_NAMES}:
            res[m["name"]] = {"type": m.get("type"), "max_entries": m.get("max_entries"),
                              "bytes_memlock": m.get("bytes_memlock")}
    return res

LOST_RE = re.compile(rb'"lost":\{"recursion_misses":(\d+),"map_full":(\d+),"ringbuf_drops":(\d+)\}')

def check(doc, nslist, tr):
    """Compare one JSON document with the ss truth, per namespace."""
    res = {}
    by_name = {n.get("name"): n for n in doc.get("netns", [])}
    for ns in nslist:
        t = tr[ns]
        n = by_name.get(ns)
        if n is None:
            res[ns] = {"expected": t["total"], "got": None, "missing_netns": True}
            continue
        got = Counter()
        tw = 0
        for d in n["destinations"]:
            got[(d["saddr"], d["daddr"], d["dport"])] += d["in_use"]
            tw += d["states"]["time_wait"]
        keys = set(got) | set(t["per"])
        exact = sum(1 for k in keys if got.get(k, 0) == t["per"].get(k, 0))
        res[ns] = {"expected": t["total"], "got": sum(got.values()),
                   "expected_tw": t["states"].get("TIME-WAIT", 0) + t["states"].get("FIN-WAIT-2", 0),
                   "got_tw": tw, "dests_expected": len(t["per"]), "dests_shown": len(n["destinations"]),
                   "dests_exact": exact, "dests_wrong": len(keys) - exact,
                   "capacity": n.get("capacity"), "tw_model": n.get("tw_model")}
    return res

def _pdeathsig():
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

def reap(pid, timeout):
    """wait4 with a deadline: (status, rusage) or None."""
    end = time.monotonic() + timeout
    while True:
        wpid, status, ru = os.wait4(pid, os.WNOHANG)
        if wpid == pid:
            return status, ru
        if time.monotonic() > end:
            return None
        time.sleep(0.02)

def fill_ready(path):
    try:
        with open(path) as f:
            return f.read().startswith("ready")
    except OSError:
        return False

def run(cmd, mode, seconds, nslist, label, check_all=False, teardown=None):
    """Run connpressure; time its lines; sample its CPU and memory; stop it; check outputs.
    teardown (fill_out, fill_pid, hold, after): once the fill is ready, wait `hold` s, check
    the last line against ss, SIGTERM the fill, and stop `after` s later."""
    tr_before = truths(nslist)
    slab0 = slab_kb()
    errf = open(os.path.join(os.environ["TMP"], f"stderr.{label}"), "w+b")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, close_fds=True,
                         preexec_fn=_pdeathsig)
    with open(os.path.join(os.environ["TMP"], "cp.pids"), "a") as f:
        f.write(f"{p.pid}\n")
    fd = p.stdout.fileno()
    buf = bytearray()
    lines = []          # per line: t, bytes, CPU ticks since the previous line, lost
    first = last = None
    docs_checked = []
    maps = None
    slab_first = None
    mem = {}
    cpu_prev = (0, 0)
    deadline = t0 + (seconds if mode == "stream" else 0) + 120
    stop_at = None
    rc, hung, ru = None, False, None
    td = {}
    if teardown:
        deadline += 900
    try:
        while True:
            now = time.monotonic()
            if teardown:
                if "ready" not in td and fill_ready(teardown[0]):
                    td["ready"] = now - t0
                if "ready" in td and "kill" not in td and now - t0 - td["ready"] >= teardown[2]:
                    td["line_t"] = lines[-1]["t"] if lines else None
                    pre_line = last
                    tr_pre = truths(nslist)
                    td["kill"] = time.monotonic() - t0
                    os.kill(teardown[1], signal.SIGTERM)
                    d = json.loads(pre_line)
                    td["pre_kill"] = {"lost": d["lost"], "check": check(d, nslist, tr_pre),
                                      "truth": {ns: {"total": v["total"], "states": v["states"]} for ns, v in tr_pre.items()}}
                    del d, pre_line
                if stop_at is None and "kill" in td and now - t0 - td["kill"] >= teardown[3]:
                    stop_at = now
                    p.send_signal(signal.SIGINT)
            elif stop_at is None and mode == "stream" and lines and now - t0 - lines[0]["t"] >= seconds:
                stop_at = now
                p.send_signal(signal.SIGINT)
            if now > deadline:
                break
            r, _, _ = select.select([fd], [], [], 0.2)
            if not r:
                continue
            chunk = os.read(fd, 1 << 22)
            if not chunk:
                break
            buf += chunk
            while True:
                i = buf.find(b"\n")
                if i < 0:
                    break
                line = bytes(buf[:i])
                del buf[:i + 1]
                t = time.monotonic() - t0
                try:
                    cpu = proc_cpu(p.pid)
                    mem = proc_mem(p.pid) or mem
                except (OSError, IndexError, ValueError):
                    cpu = cpu_prev
                m = LOST_RE.search(line[:400])
                rec = {"t": t, "bytes": len(line),
                       "utime": cpu[0] - cpu_prev[0], "stime": cpu[1] - cpu_prev[1],
                       "lost": [int(x) for x in m.groups()] if m else None,
                       "dests_all": line.count(b'"proto":"tcp","saddr"')}
                cpu_prev = cpu
                lines.append(rec)
                if first is None:
                    first = line
                    try:
                        maps = maps_of(p.pid)
                    except Exception as e:  # --once may be gone already
                        maps = {"error": f"not read ({e.__class__.__name__})"}
                    slab_first = slab_kb()
                last = line
                if check_all and len(line) < (8 << 20):
                    docs_checked.append(line)
        if stop_at is None and mode == "stream":
            stop_at = time.monotonic()
            p.send_signal(signal.SIGINT)
        slab_end = slab_kb()
        w = reap(p.pid, 30)
        if w is None:
            hung = True
            p.kill()
            w = reap(p.pid, 30)
        if w:
            status, ru = w
            rc = os.waitstatus_to_exitcode(status)
            p.returncode = rc
        t_exit = time.monotonic() - t0
    finally:
        if p.returncode is None and p.poll() is None:
            p.kill()
            p.wait()
    errf.seek(0)
    stderr = errf.read().decode(errors="replace")
    errf.close()
    tr_after = truths(nslist)
    res = {"label": label, "cmd": cmd, "mode": mode, "rc": rc, "hung_on_exit": hung,
           "t_first": lines[0]["t"] if lines else None, "t_exit": t_exit,
           "exit_after_sigint": (t_exit - (stop_at - t0)) if stop_at else None,
           "n_lines": len(lines), "lines": lines, "mem_kb": mem,
           "maxrss_kb": ru.ru_maxrss if ru else None,
           "cpu_total": [ru.ru_utime, ru.ru_stime] if ru else None,
           "maps": maps,
           "slab_kb_delta_first": (slab_first - slab0) if slab_first is not None else None,
           "slab_kb_delta_end": slab_end - slab0,
           "stderr": stderr[-4000:], "teardown": td,
           "truth_before": {ns: {"total": v["total"], "states": v["states"]} for ns, v in tr_before.items()},
           "truth_after": {ns: {"total": v["total"], "states": v["states"]} for ns, v in tr_after.items()}}
    if first:
        d = json.loads(first)
        res["first"] = {"lost": d["lost"], "sock_slots": d.get("sock_slots"), "n_netns": len(d["netns"]),
                        "check": check(d, nslist, tr_before)}
    if last and mode == "stream":
        d = json.loads(last)
        res["last"] = {"lost": d["lost"], "sock_slots": d.get("sock_slots"), "n_netns": len(d["netns"]),
                       "check": check(d, nslist, tr_after)}
    if check_all and all(tr_before[ns]["per"] == tr_after[ns]["per"] for ns in nslist):
        res["all_lines_ok"] = []
        for line in docs_checked[1:-1]:
            d = json.loads(line)
            c = check(d, nslist, tr_before)
            res["all_lines_ok"].append(all(v.get("got") == v["expected"] for v in c.values()))
    return res

def fmt_check(c):
    exp = sum(v["expected"] for v in c.values())
    got = sum((v["got"] or 0) for v in c.values())
    bad = [ns for ns, v in c.items() if v.get("got") != v["expected"]]
    s = f"in_use expected {exp} got {got}"
    etw = sum(v.get("expected_tw", 0) for v in c.values())
    gtw = sum(v.get("got_tw", 0) for v in c.values())
    s += f"; time_wait expected {etw} got {gtw}"
    de = sum(v.get("dests_expected", 0) for v in c.values())
    ds = sum(v.get("dests_shown", 0) for v in c.values())
    dx = sum(v.get("dests_exact", 0) for v in c.values())
    dw = sum(v.get("dests_wrong", 0) for v in c.values())
    s += f"; destinations expected {de} shown {ds} exact {dx} wrong {dw}"
    if bad:
        s += f"; namespaces wrong: {len(bad)}/{len(c)}"
        for ns in bad[:5]:
            v = c[ns]
            s += f"\n      {ns}: expected {v['expected']} got {v.get('got')} (tw {v.get('expected_tw')}/{v.get('got_tw')})"
    else:
        s += f"; all {len(c)} namespaces exact" if c else ""
    return s

def summary(res):
    out = []
    L = res["lines"]
    out.append(f"  [{res['label']}] rc={res['rc']}{' HUNG-ON-EXIT' if res['hung_on_exit'] else ''}"
               f" first output {res['t_first'] if res['t_first'] is None else round(res['t_first'], 3)} s,"
               f" exit {res['t_exit']:.3f} s, lines {res['n_lines']}, first line {L[0]['bytes'] if L else 0} bytes"
               + (f", exit {res['exit_after_sigint']:.2f} s after SIGINT" if res.get("exit_after_sigint") else ""))
    hwm = res.get("maxrss_kb") or res.get("mem_kb", {}).get("VmHWM", 0)
    ct = res.get("cpu_total")
    out.append(f"    memory: VmHWM (ru_maxrss) {hwm/1024:.1f} MB;"
               + (f" slab growth {res['slab_kb_delta_first']/1024:.1f} MB at first output," if res['slab_kb_delta_first'] is not None else "")
               + f" {res['slab_kb_delta_end']/1024:.1f} MB at the end (SUnreclaim, system-wide: includes sk_storage, noisy)"
               + (f"; CPU total user {ct[0]:.2f} s sys {ct[1]:.2f} s" if ct else ""))
    if len(L) > 2:
        iv = L[1:]  # intervals after the first output
        cpu = sorted((x["utime"] + x["stime"]) * 1000 / HZ for x in iv)
        ut = sum(x["utime"] for x in iv) * 1000 / HZ / len(iv)
        st = sum(x["stime"] for x in iv) * 1000 / HZ / len(iv)
        gaps = [b["t"] - a["t"] for a, b in zip(L, L[1:])]
        out.append(f"    CPU per interval (after the first): median {cpu[len(cpu)//2]:.0f} ms, max {cpu[-1]:.0f} ms,"
                   f" mean user {ut:.0f} ms + sys {st:.0f} ms over {len(iv)} intervals;"
                   f" start-up (to first output) {(L[0]['utime'] + L[0]['stime']) * 1000 / HZ:.0f} ms;"
                   f" line gaps {min(gaps):.2f}-{max(gaps):.2f} s")
    elif L:
        out.append(f"    CPU to first output: user {L[0]['utime'] * 1000 / HZ:.0f} ms, sys {L[0]['stime'] * 1000 / HZ:.0f} ms")
    m = res.get("maps")
    if m and "error" not in m:
        tot = sum((v.get("bytes_memlock") or 0) for v in m.values())
        parts = ", ".join(f"{k} {(v.get('bytes_memlock') or 0)/1048576:.2f}" for k, v in sorted(m.items()))
        out.append(f"    maps bytes_memlock at first output: {tot/1048576:.1f} MB ({parts} MB)")
    elif m:
        out.append(f"    maps: {m['error']}")
    td = res.get("teardown") or {}
    if td:
        out.append(f"    fill ready at {td.get('ready', float('nan')):.1f} s, checked and killed at {td.get('kill', float('nan')):.1f} s (run time)")
        if "pre_kill" in td:
            r = td["pre_kill"]
            out.append(f"    before the kill (line at {td['line_t']:.1f} s): lost {r['lost']}; " + fmt_check(r["check"]))
    for which in ("first", "last"):
        if which in res:
            r = res[which]
            out.append(f"    {which} output: lost {r['lost']}, sock_slots {r.get('sock_slots')}, "
                       f"netns shown {r['n_netns']}; " + fmt_check(r["check"]))
    if L and L[-1]["lost"]:
        mf = [x["lost"][1] for x in L if x["lost"]]
        out.append(f"    lost.map_full over the run: {mf[0]} -> {mf[-1]}")
    if "all_lines_ok" in res:
        ok = res["all_lines_ok"]
        out.append(f"    middle lines exact: {sum(ok)}/{len(ok)}")
    tb = sum(v["total"] for v in res["truth_before"].values())
    ta = sum(v["total"] for v in res["truth_after"].values())
    if tb != ta:
        out.append(f"    note: ss changed during the run: {tb} before, {ta} after (slab growth then includes the new sockets)")
    if res["stderr"].strip():
        out.append("    stderr: " + res["stderr"].strip().replace("\n", "\n            ")[:1500])
    return "\n".join(out)

if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["once", "stream"], required=True)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--label", required=True)
    ap.add_argument("--ns", action="append", default=[])
    ap.add_argument("--check-all", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--teardown", nargs=4, metavar=("FILL_OUT", "FILL_PID", "HOLD", "AFTER"),
                    help="after the fill is ready: HOLD s, check, SIGTERM FILL_PID, AFTER s, stop")
    ap.add_argument("cmd", nargs="+")
    a = ap.parse_args()
    td = None
    if a.teardown:
        td = (a.teardown[0], int(a.teardown[1]), float(a.teardown[2]), float(a.teardown[3]))
    res = run(a.cmd, a.mode, a.seconds, a.ns, a.label, a.check_all, td)
    with open(a.out, "a") as f:
        f.write(json.dumps(res, default=str) + "\n")
    print(summary(res), flush=True)
PY
export TMP

# ---- namespaces and fills ------------------------------------------------------------------

make_ns() {	# name
	local ns=$1
	ip netns add "$ns" || die "ip netns add $ns"
	NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
		net.ipv4.tcp_max_tw_buckets=2000000 net.core.somaxconn=65535 || die "sysctl in $ns"
}

# One fifo holds every fill's stdin open: closing HOLD_FD ends them all, also if we die.
open_hold() {
	[ -n "$HOLD_FD" ] && return
	[ -p "$TMP/hold" ] || mkfifo "$TMP/hold" || die "mkfifo"
	exec {HOLD_FD}<>"$TMP/hold"
}

start_fill() {	# ns out delay args...   (the sleep execs sockfill: same pid)
	local ns=$1 out=$2 delay=$3
	shift 3
	open_hold
	# shellcheck disable=SC2016
	ip netns exec "$ns" sh -c 'sleep "$0"; exec "$@"' "$delay" "$SOCKFILL" "$@" \
		<"$TMP/hold" >"$out" 2>"$out.err" {HOLD_FD}>&- &
	FILL_PIDS+=($!)
}

wait_ready() {	# timeout out-files...
	local deadline=$((SECONDS + $1)) f
	shift
	for f in "$@"; do
		while ! grep -q '^ready' "$f" 2>/dev/null; do
			[ $SECONDS -lt $deadline ] || die "fill timed out: $f: $(cat "$f.err" 2>/dev/null)"
			if [ -s "$f.err" ] && grep -qv warning "$f.err"; then
				die "fill failed: $(cat "$f.err")"
			fi
			sleep 0.2
		done
	done
}

measure() {	# label mode seconds check-all(0/1) ns-list... -- cmd...
	local label=$1 mode=$2 secs=$3 all=$4 nsargs=()
	shift 4
	while [ "$1" != "--" ]; do nsargs+=(--ns "$1"); shift; done
	shift
	local extra=("${MEASURE_EXTRA[@]}")
	[ "$all" = 1 ] && extra+=(--check-all)
	# In the background and waited for, so that a signal to this script acts at once; the
	# harness's connpressure gets SIGTERM if the harness dies (PR_SET_PDEATHSIG).
	timeout -s KILL $((${secs%.*} + 900)) python3 "$TMP/measure.py" --mode "$mode" --seconds "$secs" \
		--label "$label" --out "$SCALE_OUT" "${extra[@]}" "${nsargs[@]}" -- "$@" {HOLD_FD}>&- &
	MEASURE_PID=$!
	wait "$MEASURE_PID"
	MEASURE_PID=
}

machine() {
	printf 'machine: %s, %s CPUs, %s MB RAM, kernel %s; other namespaces now: %s; other connpressure now: %s\n' \
		"$(hostname)" "$(nproc)" "$(free -m | awk '/^Mem/{print $2}')" "$(uname -r)" \
		"$(ip netns list | grep -vc "^$PREFIX-")" "$(pgrep -f 'connpressure' | wc -l)"
}

# ---- scenario a: start-up -------------------------------------------------------------------

scenario_startup() {
	local i ns outs=() nss=() t0 tw_frac
	echo "== start-up: $SU_NS namespaces x ($SU_LIVE connections + $SU_TW in TIME_WAIT) =="
	machine
	tw_frac=$(awk -v a="$SU_LIVE" -v b="$SU_TW" 'BEGIN{printf "%.9f", b/(a+b)}')
	t0=$SECONDS
	for i in $(seq 1 "$SU_NS"); do
		ns=$PREFIX-su-$i
		make_ns "$ns"
		nss+=("$ns")
		start_fill "$ns" "$TMP/fill.$ns" 0 -c $((SU_LIVE + SU_TW)) -p 4 -a 5 -t "$tw_frac"
		outs+=("$TMP/fill.$ns")
	done
	for i in $(seq 1 "$SU_EMPTY_NS"); do
		make_ns "$PREFIX-su-empty-$i"
	done
	wait_ready "$FILL_TIMEOUT" "${outs[@]}"
	local socks
	socks=$(cat "${outs[@]}" | sed -n 's/.*sockets=\([0-9]*\).*/\1/p' | awk '{s+=$1} END{print s+0}')
	echo "  filled in $((SECONDS - t0)) s: $socks open sockets + $((SU_NS * SU_TW)) TIME_WAIT in $SU_NS namespaces" \
	     "(and $SU_EMPTY_NS empty ones)" \
	     "($(head -1 "${outs[0]}"))"
	for i in $(seq 1 "$SU_RUNS"); do
		measure "once-$i" once 0 0 "${nss[@]}" -- "$CP" --once -o json
	done
	for i in $(seq 1 "$SU_STREAM_RUNS"); do
		measure "stream-$i" stream "$SU_STREAM_SECONDS" 1 "${nss[@]}" -- "$CP" -o json -i 1
	done
	stop_fills
	del_namespaces
	check_clean
}

# ---- scenario b: scale ---------------------------------------------------------------------

fill_scale() {	# label -> fills SC_NS namespaces, sets SC_NSS
	local i ns outs=() t0 per
	SC_NSS=()
	per=$((SC_CONNS / SC_NS))
	t0=$SECONDS
	for i in $(seq 1 "$SC_NS"); do
		ns=$PREFIX-sc$1-$i
		make_ns "$ns"
		SC_NSS+=("$ns")
		start_fill "$ns" "$TMP/fill.$ns" 0 -c "$per" -p "$SC_PORTS" -a "$SC_ADDRS"
		outs+=("$TMP/fill.$ns")
	done
	wait_ready "$FILL_TIMEOUT" "${outs[@]}"
	echo "  fill: $(cat "${outs[@]}" | tr '\n' ' ')($((SECONDS - t0)) s wall)"
	free -m | awk '/^Mem/{printf "  memory after fill: used %d MB, free %d MB\n", $3, $4}'
}

scenario_scale() {
	local d=$((SC_PORTS * SC_ADDRS))
	echo "== scale: $SC_CONNS connections ($((2 * SC_CONNS)) sockets) over $d destinations x $SC_NS namespaces =="
	machine
	if [ "$SC_PREFILLED" = 1 ]; then
		fill_scale a
		measure default stream "$SC_SECONDS" 0 "${SC_NSS[@]}" -- "$CP" -o json -i 1
		# shellcheck disable=SC2086
		measure raised stream "$SC_SECONDS" 0 "${SC_NSS[@]}" -- "$CP" -o json -i 1 $SC_RAISED
		stop_fills
		del_namespaces
		check_clean
	fi
	[ "$SC_LIVE" = 1 ] || return 0
	local label ns sizes
	for label in live-default live-raised; do
		sizes=
		[ "$label" = live-raised ] && sizes=$SC_RAISED
		echo "== scale, $label: connpressure ${sizes:-(default sizes)} started first; the same fill ${SC_LIVE_DELAY} s later;" \
		     "${SC_LIVE_HOLD} s after it is ready, checked against ss and killed; stopped ${SC_LIVE_AFTER} s after that =="
		ns=$PREFIX-sc$label
		make_ns "$ns"	# it must exist when connpressure starts
		start_fill "$ns" "$TMP/fill.$ns" "$SC_LIVE_DELAY" -c "$SC_CONNS" -p "$SC_PORTS" -a "$SC_ADDRS"
		MEASURE_EXTRA=(--teardown "$TMP/fill.$ns" "${FILL_PIDS[-1]}" "$SC_LIVE_HOLD" "$SC_LIVE_AFTER")
		# shellcheck disable=SC2086
		measure "$label" stream 0 0 "$ns" -- "$CP" -o json -i 1 $sizes
		MEASURE_EXTRA=()
		echo "  fill (while traced): $(cat "$TMP/fill.$ns" "$TMP/fill.$ns.err")"
		stop_fills
		del_namespaces
		check_clean
	done
}

echo "connpressure scale measurements ($(date -u +%FT%TZ)); raw results: $SCALE_OUT"
case "$WHAT" in
startup) scenario_startup ;;
scale) scenario_scale ;;
all) scenario_startup; scenario_scale ;;
esac
