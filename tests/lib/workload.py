# SPDX-License-Identifier: GPL-2.0
# Drive tests/lib/sockhold.py inside a test namespace: one process, JSON commands in, JSON lines out.
import json
import os
import queue
import sys
import threading

from . import procs

SOCKHOLD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sockhold.py")


class WorkloadError(AssertionError):
    pass


class Workload:
    """A sockhold.py process in `ns`. pid/comm/netns_cookie come from its own report."""

    def __init__(self, ns, comm=None, mode="hold", extra=(), ready_timeout=10):
        argv = [sys.executable, SOCKHOLD, mode]
        if comm:
            argv += ["--comm", comm]
        argv += list(extra)
        self.ns = ns
        self.lines = queue.Queue()
        self.stderr = []
        self.proc = procs.spawn(ns.exec_argv(argv), what=f"sockhold {comm or mode}",
                                stdin=procs.subprocess.PIPE, stdout=procs.subprocess.PIPE,
                                stderr=procs.subprocess.PIPE, text=True, bufsize=1)
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        hello = self.read(ready_timeout, "ready")
        if hello.get("event") != "ready":
            raise WorkloadError(f"workload: expected ready event, got {hello}")
        self.pid = hello["pid"]
        self.comm = hello["comm"]
        self.netns_cookie = hello["netns_cookie"]
        if self.pid != self.proc.pid:
            # ip netns exec execs in place; if it ever forks, record the real workload too.
            procs.record(self.pid, f"sockhold {comm or mode}")

    def _read_out(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def read(self, timeout, what):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise WorkloadError(f"workload {what}: no answer within {timeout}s")
        if line is None:
            raise WorkloadError(f"workload {what}: exited (rc {self.proc.poll()}); "
                                f"stderr: {' | '.join(self.stderr[-5:])}")
        return json.loads(line)

    def cmd(self, op, timeout=30, **kw):
        kw["op"] = op
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        res = self.read(timeout, op)
        if not res.get("ok", False) and op != "bind":
            raise WorkloadError(f"workload {op} {kw}: {res.get('error')}")
        return res

    # convenience wrappers
    def listen(self, port, addr="127.0.0.1", **kw):
        return self.cmd("listen", addr=addr, port=port, **kw)

    def bind(self, port, addr="127.0.0.1", **kw):
        return self.cmd("bind", addr=addr, port=port, **kw)

    def connect(self, daddr, dport, n=1, **kw):
        return self.cmd("connect", daddr=daddr, dport=dport, n=n, **kw)

    def bind_many(self, n, addr="127.0.0.1", port=0, proto="tcp", **kw):
        """n sockets bound to (addr, port): {"binds": [{id, addr, port}], "errors": [...]}."""
        return self.cmd("bind_many", addr=addr, port=port, n=n, proto=proto, **kw)

    def udp(self, daddr, dport, n=1, mode="connect", **kw):
        """n unbound UDP sockets that connect() (mode "connect") or sendto() (mode "sendto") the
        destination: {"conns": [{id, saddr, sport}], "errors": [...]}."""
        return self.cmd("udp", daddr=daddr, dport=dport, n=n, mode=mode, **kw)

    def close(self, ids, order="client_first"):
        return self.cmd("close", ids=list(ids), order=order)

    def wait_done(self, timeout):
        res = self.read(timeout, "churn")
        if res.get("event") != "done":
            raise WorkloadError(f"workload churn: expected done, got {res}")
        return res

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=3)
            except procs.subprocess.TimeoutExpired:
                pass
        procs.stop(self.proc)
        if self.pid != self.proc.pid:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass
