# SPDX-License-Identifier: GPL-2.0
# Run connpressure: streaming (-o json -i 0.2 -n NS, lines read by a thread) or one-shot, and look at
# its documents (netns entry, destination, failures) the way the tests compare them with ground truth.
import json
import signal
import subprocess
import threading
import time

from . import procs
from .check import fmt
from .ss import BUCKETS, empty_view

INTERVAL = 0.2


class ToolError(AssertionError):
    pass


def tail(lines, n=3):
    return " | ".join(lines[-n:]) if lines else "(empty)"


class Tool:
    """connpressure streaming JSON documents. Construct, then wait_ready(); stop() at the end."""

    def __init__(self, binary, args):
        self.argv = [binary] + list(args)
        self.docs = []
        self.bad_lines = []
        self.stderr = []
        self.cond = threading.Condition()
        self.eof = False
        self.proc = procs.spawn(self.argv, what="connpressure", stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, bufsize=1)
        self.t_out = threading.Thread(target=self._read_out, daemon=True)
        self.t_err = threading.Thread(target=self._read_err, daemon=True)
        self.t_out.start()
        self.t_err.start()

    def _read_out(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self.cond:
                try:
                    d = json.loads(line)
                    d["_arrival"] = time.monotonic()
                    self.docs.append(d)
                except ValueError:
                    self.bad_lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def describe_exit(self):
        return (f"connpressure exited rc={self.proc.poll()}; stderr: {tail(self.stderr)}"
                + (f"; non-JSON stdout: {tail(self.bad_lines)}" if self.bad_lines else ""))

    def wait_doc(self, index, timeout):
        """Document number `index` (0-based), waiting for it."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.docs) <= index:
                left = deadline - time.monotonic()
                if self.eof:
                    raise ToolError(f"no document #{index + 1}: {self.describe_exit()}")
                if left <= 0:
                    raise ToolError(f"no document #{index + 1} within {timeout}s "
                                    f"(got {len(self.docs)}); stderr: {tail(self.stderr)}")
                self.cond.wait(left)
            return self.docs[index]

    def wait_ready(self, timeout=20):
        """The first line means attached and seeded (contract)."""
        return self.wait_doc(0, timeout)

    def next_doc(self, timeout=5):
        """The first document that arrives after this call."""
        with self.cond:
            n = len(self.docs)
        return self.wait_doc(n, timeout)

    def mark(self):
        """Index of the next document: pass as since= to also consider documents that arrive
        between now and the wait (e.g. while a workload command runs)."""
        with self.cond:
            return len(self.docs)

    def wait_value(self, get, expected, what, timeout=5.0, stable=1, since=None):
        """Wait for a document (arriving after this call, or from index `since`) where
        get(doc) == expected, then require it for `stable` more documents.
        On timeout: AssertionError 'what: expected E, got G'."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = len(self.docs) if since is None else since
        got, seen, run = None, False, 0
        while True:
            left = deadline - time.monotonic()
            if run == 0 and left <= 0:
                break
            try:
                d = self.wait_doc(i, left if run == 0 else 3.0)
            except ToolError:
                if self.eof or run:
                    raise
                break
            i += 1
            got, seen = get(d), True
            if got == expected:
                run += 1
                if run > stable:
                    return d
            elif run:
                raise AssertionError(f"{what}: expected {fmt(expected)}, got it once and then "
                                     f"{fmt(got)} in the next document (not stable)")
        raise AssertionError(f"{what}: expected {fmt(expected)}, got "
                             f"{fmt(got) if seen else 'no document'} (waited {timeout}s)")

    def wait_for(self, pred, what, timeout=5.0, since=None):
        """Wait for a document (arriving after this call, or from index `since`) where pred(doc)
        is truthy."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = len(self.docs) if since is None else since
        last = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                d = self.wait_doc(i, left)
            except ToolError:
                if self.eof:
                    raise
                break
            i += 1
            last = d
            if pred(d):
                return d
        raise AssertionError(f"{what}: not seen within {timeout}s; last document: "
                             f"{fmt(strip(last)) if last else None}")

    def all_docs(self):
        with self.cond:
            return list(self.docs)

    def stop(self, sig=signal.SIGINT, timeout=5):
        """Send sig, wait for exit, return the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                self.t_out.join(2)
                self.t_err.join(2)
                return None
        self.t_out.join(2)
        self.t_err.join(2)
        return self.proc.returncode

    def kill(self):
        procs.stop(self.proc, signal.SIGKILL)


def run_once(binary, args, timeout=30, user=None):
    """Run connpressure to completion. user='nobody' runs it as uid 65534 with no capabilities."""
    argv = [binary] + list(args)
    if user == "nobody":
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all"] + argv
    p = procs.spawn(argv, what="connpressure", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"{' '.join(argv)}: still running after {timeout}s; "
                             f"stderr: {err.strip()[-300:]}")
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


# --- reading documents

def strip(doc):
    if isinstance(doc, dict):
        return {k: v for k, v in doc.items() if not k.startswith("_")}
    return doc


def ns_entry(doc, name):
    for e in doc.get("netns", []):
        if e.get("name") == name:
            return e
    return None


def dest(doc, name, saddr, daddr, dport):
    e = ns_entry(doc, name)
    if e is None:
        return None
    for d in e.get("destinations", []):
        if (d.get("proto", "tcp") == "tcp" and d.get("saddr") == saddr and d.get("daddr") == daddr
                and d.get("dport") == dport):
            return d
    return None


def dest_view(doc, name, saddr, daddr, dport):
    """in_use and states of one destination; a missing destination reads as all zeros."""
    d = dest(doc, name, saddr, daddr, dport)
    if d is None:
        return empty_view()
    st = d.get("states") or {}
    return {"in_use": d.get("in_use"), "states": {b: st.get(b) for b in BUCKETS}}


def dest_field(name, saddr, daddr, dport, field):
    """A getter for wait_value: one field of a destination (None if the destination is absent)."""
    def get(doc):
        d = dest(doc, name, saddr, daddr, dport)
        return None if d is None else d.get(field)
    return get


def all_views(doc, name):
    """{(saddr, daddr, dport): view} for every tcp destination of netns `name` with in_use > 0."""
    e = ns_entry(doc, name) or {}
    res = {}
    for d in e.get("destinations", []):
        if d.get("proto", "tcp") != "tcp" or not d.get("in_use"):
            continue
        st = d.get("states") or {}
        res[(d.get("saddr"), d.get("daddr"), d.get("dport"))] = {
            "in_use": d.get("in_use"), "states": {b: st.get(b) for b in BUCKETS}}
    return res


def failures(doc, name, daddr=None, dport=None, pid=None):
    e = ns_entry(doc, name) or {}
    res = []
    for f in e.get("failures", []):
        if daddr is not None and f.get("daddr") != daddr:
            continue
        if dport is not None and f.get("dport") != dport:
            continue
        if pid is not None and f.get("pid") != pid:
            continue
        res.append(f)
    return res


# --- bind(), UDP, hooks, namespaces by cookie (issue 3)

def ns_by_cookie(doc, cookie):
    for e in doc.get("netns", []):
        if e.get("cookie") == cookie:
            return e
    return None


def bind_row(doc, name, addr):
    """The bind[] row of local address `addr` in netns `name`, or None."""
    for r in (ns_entry(doc, name) or {}).get("bind") or []:
        if r.get("addr") == addr:
            return r
    return None


def bind_in_use(doc, name):
    """{addr: in_use} of bind[] rows with in_use > 0."""
    return {r.get("addr"): r.get("in_use") for r in (ns_entry(doc, name) or {}).get("bind") or []
            if r.get("in_use")}


def udp_of(doc, name):
    """The udp object of netns `name` (None if the netns or the object is missing)."""
    e = ns_entry(doc, name)
    return None if e is None else e.get("udp")


def udp_view(doc, name):
    """{"in_use": n, "by_addr": {addr: in_use}} (rows with in_use > 0), comparable with
    ss.udp_truth()."""
    u = udp_of(doc, name) or {}
    return {"in_use": u.get("in_use"),
            "by_addr": {r.get("addr"): r.get("in_use") for r in u.get("by_addr") or []
                        if r.get("in_use")}}


def armed(doc):
    """(hooks.syscalls.armed, hooks.syscalls.reason), or None if missing."""
    sc = ((doc.get("hooks") or {}).get("syscalls"))
    return None if sc is None else (sc.get("armed"), sc.get("reason"))


def failure_rows(doc, name, error=None, proto=None, pid=None):
    """failures[] of netns `name`, optionally only one error / proto / pid."""
    res = []
    for f in (ns_entry(doc, name) or {}).get("failures", []):
        if error is not None and f.get("error") != error:
            continue
        if proto is not None and f.get("proto") != proto:
            continue
        if pid is not None and f.get("pid") != pid:
            continue
        res.append(f)
    return res


def failure_key(f):
    """(proto, saddr, daddr, dport, error, pid, comm, total) of a failure row."""
    return tuple(f.get(k) for k in ("proto", "saddr", "daddr", "dport", "error", "pid", "comm",
                                    "total"))
