# SPDX-License-Identifier: GPL-2.0
# The object a system test receives: creates namespaces, workloads and tool runs, and undoes every one
# of them (last first) when the test ends, pass or fail.
import json
import signal
import sys
import traceback

from .netns import Netns
from .tool import INTERVAL, Tool, run_once
from .workload import Workload


class Context:
    def __init__(self, binary, repo):
        self.binary = binary
        self.repo = repo
        self._cleanups = []

    def log(self, msg):
        print(msg, file=sys.stderr, flush=True)

    def defer(self, fn, *args):
        self._cleanups.append((fn, args))

    def netns(self, port_range=(40000, 40009), sysctls=None):
        """A fresh namespace with lo up and a shrunken ephemeral range (10 ports by default)."""
        ns = Netns(port_range, sysctls)
        self.defer(ns.close)
        self.log(f"netns {ns.name} range {port_range} {sysctls or ''}")
        return ns

    def workload(self, ns, comm=None, mode="hold", extra=()):
        w = Workload(ns, comm=comm, mode=mode, extra=extra)
        self.defer(w.stop)
        self.log(f"workload pid {w.pid} comm {w.comm} in {ns.name}")
        return w

    def tool(self, ns=None, args=(), interval=INTERVAL, ready_timeout=20, prefix=()):
        """connpressure streaming JSON for `ns` (all namespaces if None); returns once the first
        document is out (= attached and seeded). `prefix` is a command that execs it (the
        binary and its arguments are appended)."""
        argv = ["-o", "json", "-i", str(interval)]
        if ns is not None:
            argv += ["-n", ns.name]
        argv += list(args)
        if prefix:
            t = Tool(prefix[0], list(prefix[1:]) + [self.binary] + argv)
        else:
            t = Tool(self.binary, argv)
        self.defer(self._stop_tool, t)
        self.log(f"connpressure {' '.join(argv)} (pid {t.proc.pid})")
        t.wait_ready(ready_timeout)
        return t

    def _stop_tool(self, t):
        if t.proc.poll() is None:
            t.stop(signal.SIGINT, timeout=5)
        else:
            t.stop()

    def once(self, ns=None, args=(), timeout=30):
        """connpressure --once -o json [-n ns]: asserts exit 0 and one JSON line; returns the doc."""
        argv = ["--once", "-o", "json"] + (["-n", ns.name] if ns is not None else []) + list(args)
        p = run_once(self.binary, argv, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"connpressure {' '.join(argv)}: exit code expected 0, got "
                                 f"{p.returncode}; stderr: {p.stderr.strip()[-400:]}")
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        if len(lines) != 1:
            raise AssertionError(f"connpressure {' '.join(argv)}: expected one JSON line on stdout, "
                                 f"got {len(lines)}: {p.stdout[:300]!r}")
        try:
            return json.loads(lines[0])
        except ValueError as e:
            raise AssertionError(f"connpressure --once: stdout is not JSON ({e}): {lines[0][:300]!r}")

    def cleanup(self):
        errors = []
        while self._cleanups:
            fn, args = self._cleanups.pop()
            try:
                fn(*args)
            except Exception as e:
                traceback.print_exc()
                errors.append(f"{getattr(fn, '__qualname__', fn)}: {e}")
        return errors
