#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench_pair.py: what connpressure's programs cost a connection, beyond the tracepoints' floor,
measured between two storms that run at the same time.

    tools/bench_pair.py [--rounds N] [--seconds S] [--threads N] [--modes LIST]
                        [--cp PATH] [--loadgen PATH] [--json FILE]
    defaults: --rounds 8 --seconds 3 --threads 1 --modes tcp-server-close,tcp-client-close

tools/bench.sh compares runs made one after the other; on a small VM the untraced rate itself
moves by 10-40% from run to run (the host), more than the cost of a tracer. Here every run starts
two identical loadgen storms at once, each in its own fresh netns (A and B), with connpressure
running as `-n A`, `-n B` or `-n C` (a third netns without load: the control). Both storms pay
the tracepoints' calls (the hooks are global: that floor is what bench.sh's hooks-only row
measures); only the traced storm's sockets get connpressure's work. Whatever the host does
happens to both storms at once, so

    traced   rate of the traced storm / rate of the other one, pooled over `-n A` and `-n B` runs
             (which cancels any difference between the two storms);
    control  rate of A / rate of B when neither is traced: the noise of the method.

With the CPU shared fairly, traced ~ 1 / (1 + c), c = the programs' extra CPU per connection
over the CPU a connection costs. Each round runs A, control, B (rotated from round to round).
Before it stops the tool, the script waits for one more line of output and checks that the
tool saw the traced storm: `seen` is the ports connect() took in the traced netns, summed from
its `new_per_second`, over the storm's own count of connections (TCP; ~1.00 when nothing was
missed). Medians come with a 90% interval (bootstrap, as in bench_pool.py). Nothing is
asserted. A run's namespaces and processes are removed on any exit.
"""
import argparse
import json
import os
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_pool import median_ci  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = ("tcp-client-close", "tcp-server-close", "udp")
LOAD_LINE = re.compile(r"rate=([0-9.]+) ops=([0-9]+) seconds=([0-9.]+) errors=([0-9]+)")
TOOL_READY_S = 5.0
RNG = random.Random(1)	# fixed seed: a run's intervals are reproducible


class BenchError(Exception):
    pass


def sh(*argv):
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        raise BenchError(f"{' '.join(argv)}: {r.stderr.strip() or 'exit ' + str(r.returncode)}")


class Netns:
    """A fresh namespace like bench.sh's: the whole port range, tcp_tw_reuse=1, lo up."""

    seq = 0

    def __init__(self):
        Netns.seq += 1
        self.name = f"cpbp{os.getpid()}-{Netns.seq}"
        sh("ip", "netns", "add", self.name)
        self.live = True
        try:
            sh("ip", "netns", "exec", self.name, "sh", "-c",
               'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range && '
               "echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse")
            sh("ip", "-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.delete()
            raise

    def delete(self):
        if self.live:
            self.live = False
            subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)


class Tool:
    """connpressure -n NETNS -o json -i 1, its lines read by a thread."""

    def __init__(self, cp, netns):
        self.proc = subprocess.Popen([cp, "-n", netns, "-o", "json", "-i", "1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_doc(self, timeout):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line is None:
            self.stop()
            err = self.proc.stderr.read().strip().splitlines()
            raise BenchError(f"connpressure printed nothing within {timeout:.0f} s"
                             + (f": {err[-1]}" if err else ""))
        return json.loads(line)

    def docs_so_far(self):
        out = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return out
            if line is not None:
                out.append(json.loads(line))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def connects_seen(docs, netns):
    """Ports connect() took in netns over these documents (sum of new_per_second x interval)."""
    total = 0.0
    for d in docs:
        for ns in d.get("netns", []):
            if ns.get("name") != netns:
                continue
            for dest in ns.get("destinations", []):
                if dest.get("proto") == "tcp":
                    total += dest.get("new_per_second", 0) * d.get("interval_seconds", 0)
    return total


def storms(loadgen, mode, threads, seconds, netns_names):
    """Start one loadgen per netns at once; [(rate, ops)] in the same order."""
    procs = [subprocess.Popen(["ip", "netns", "exec", n, loadgen, "--mode", mode, "--threads",
                               str(threads), "--seconds", str(seconds)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in netns_names]
    res = []
    for p in procs:
        out, err = p.communicate()
        m = LOAD_LINE.search(out.strip().splitlines()[-1] if out.strip() else "")
        if p.returncode or not m:
            raise BenchError(f"loadgen failed (rc {p.returncode}): {err.strip()[-200:]}")
        res.append((float(m[1]), int(m[2])))
    return res


def one_run(args, mode, traced):
    """Two storms, connpressure on A, B or neither (C); returns the sample of this run."""
    a, b, c, tool = None, None, None, None
    try:
        a = Netns()     # one at a time: each is deleted below even if the next fails
        b = Netns()
        c = Netns()
        target = {"A": a, "B": b, "C": c}[traced]
        tool = Tool(args.cp, target.name)
        tool.next_doc(TOOL_READY_S)           # attached and printing: the live view is up
        (ra, oa), (rb, ob) = storms(args.loadgen, mode, args.threads, args.seconds,
                                    (a.name, b.name))
        docs = tool.docs_so_far()
        docs.append(tool.next_doc(3.0))       # a line that covers the storm's end
        tool.stop()
        sample = {"traced": traced, "rate_a": ra, "rate_b": rb, "ops_a": oa, "ops_b": ob}
        if traced == "A":
            sample["ratio"] = ra / rb
            ops = oa
        elif traced == "B":
            sample["ratio"] = rb / ra
            ops = ob
        else:
            sample["ratio"] = ra / rb
            ops = 0
        if ops and mode != "udp":
            # The readiness line and those before it predate the storm: count from there on.
            sample["seen"] = connects_seen(docs, target.name) / ops
        return sample
    finally:
        if tool:
            tool.stop()
        for n in (a, b, c):
            if n:
                n.delete()


def summary(values):
    if not values:
        return None
    lo, hi = median_ci(values, RNG) if len(values) >= 3 else (float("nan"), float("nan"))
    return {"n": len(values), "median": statistics.median(values), "ci90": [lo, hi],
            "min": min(values), "max": max(values)}


def fmt(s):
    return "-" if not s else f"{s['median']:.3f} ({s['ci90'][0]:.3f}-{s['ci90'][1]:.3f})"


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench_pair.py", description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=1, help="client threads per storm")
    ap.add_argument("--modes", default="tcp-server-close,tcp-client-close")
    ap.add_argument("--cp", default=os.path.join(ROOT, ".output", "connpressure"))
    ap.add_argument("--loadgen", default=os.path.join(ROOT, ".output", "loadgen"))
    ap.add_argument("--json", help="write the per-run samples and summaries here")
    args = ap.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    for m in args.modes:
        if m not in MODES:
            ap.error(f"unknown mode {m!r} (one of {', '.join(MODES)})")
    if args.rounds < 1 or args.seconds <= 0 or args.threads < 1:
        ap.error("--rounds, --seconds and --threads want positive values")
    for what, path in (("--cp", args.cp), ("--loadgen", args.loadgen)):
        if not os.access(path, os.X_OK):
            ap.error(f"{what} {path}: not an executable (make builds it)")
    if os.geteuid() != 0:
        ap.error("needs root (network namespaces, BPF)")
    return args


def main(argv):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"connpressure: {args.cp}; {args.rounds} rounds of {args.seconds:g} s, "
          f"{args.threads} client thread(s) per storm, two storms at once")
    report = []
    order = ["A", "C", "B"]
    for mode in args.modes:
        samples = []
        for r in range(args.rounds):
            rot = order[r % 3:] + order[:r % 3]
            for traced in rot:
                s = one_run(args, mode, traced)
                samples.append(s)
                seen = f"  seen {s['seen']:.3f}" if "seen" in s else ""
                print(f"  {mode} round {r + 1} traced={traced}: A {s['rate_a']:.0f}/s "
                      f"B {s['rate_b']:.0f}/s  ratio {s['ratio']:.3f}{seen}", flush=True)
        traced = [s["ratio"] for s in samples if s["traced"] != "C"]
        control = [s["ratio"] for s in samples if s["traced"] == "C"]
        seen = [s["seen"] for s in samples if "seen" in s]
        report.append({"mode": mode, "traced": summary(traced), "control": summary(control),
                       "seen": summary(seen), "samples": samples})
    print(f"\n{'mode':17} {'runs':>4}  {'traced / other (90% CI)':25} "
          f"{'control A / B (90% CI)':25} seen (min)")
    for row in report:
        s = row["seen"]
        seen = f"{s['median']:.3f} ({s['min']:.3f})" if s else "-"
        print(f"{row['mode']:17} {row['traced']['n']:4}  {fmt(row['traced']):25} "
              f"{fmt(row['control']):25} {seen}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        print(f"bench_pair: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
