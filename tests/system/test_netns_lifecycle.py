# SPDX-License-Identifier: GPL-2.0
# Namespaces that come and go while connpressure runs (-n all): a container-like namespace created
# while it runs appears with counts that include the sockets opened before it was seen, labelled with
# a member pid and that member's cgroup; a deleted namespace disappears (and is not kept alive by the
# tool); the tool keeps running.
import os
import signal

from lib import ss
from lib.check import assert_eq, assert_in, assert_true
from lib.container import UnnamedNetns, cgroup_of
from lib.tool import ns_by_cookie
from lib.workload import Workload

LO = "127.0.0.1"


def views(e):
    """{(saddr, daddr, dport): {"in_use", "states"}} of a netns entry (tcp, in_use > 0)."""
    res = {}
    for d in (e or {}).get("destinations", []):
        if d.get("proto", "tcp") != "tcp" or not d.get("in_use"):
            continue
        st = d.get("states") or {}
        res[(d.get("saddr"), d.get("daddr"), d.get("dport"))] = {
            "in_use": d.get("in_use"), "states": {b: st.get(b) for b in ss.BUCKETS}}
    return res


def netns_fds(pid, inum):
    """File descriptors of pid that refer to the network namespace `inum`."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == f"net:[{inum}]":
                found.append(fd)
        except OSError:
            pass
    return found


def resume(pid):
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def test_netns_created_and_deleted_while_running(ctx):
    old = ctx.netns()
    wold = ctx.workload(old, comm="cpt-old")
    wold.listen(5000)
    wold.connect(LO, 5000, n=2)
    old_inum, old_cookie = old.inum(), wold.netns_cookie
    t = ctx.tool(interval=0.3)
    t.wait_for(lambda d: ns_by_cookie(d, old_cookie) is not None,
               f"netns {old.name} (created before the start) listed", timeout=5)

    # The tool is paused while the new namespace and its sockets are made, so that every socket
    # exists before the tool can first see the namespace.
    os.kill(t.proc.pid, signal.SIGSTOP)
    ctx.defer(resume, t.proc.pid)
    try:
        new = UnnamedNetns()
        ctx.defer(new.close)
        w = Workload(new, comm="cpt-new")
        ctx.defer(w.stop)
        new.move(w.pid)
        w.listen(5000)
        r = w.connect(LO, 5000, n=3)
        b = w.bind_many(2, addr=LO)
        u = w.udp(LO, 6000, n=2)
        assert_eq((len(r["conns"]), len(b["binds"]), len(u["conns"])), (3, 2, 2),
                  "workload in the new namespace: 3 connects, 2 bind(0), 2 UDP connects")
        bound = {x["port"] for x in b["binds"]}
        truth = ss.truth(new, exclude_lports=bound)
        udp_truth = ss.udp_truth(new)
    finally:
        resume(t.proc.pid)
    ctx.log(f"new unnamed netns inum {new.inum} cookie {w.netns_cookie} cgroup {new.cgroup}")

    doc = t.wait_for(lambda d: ns_by_cookie(d, w.netns_cookie) is not None,
                     "the namespace created while running appears", timeout=5)
    e = ns_by_cookie(doc, w.netns_cookie)
    assert_eq((e.get("name"), e.get("inum")), (None, new.inum), "new netns: name null, inum")
    assert_in(e.get("pid"), new.members(), "new netns: pid is a member of the namespace")
    assert_eq(e.get("cgroup"), new.cgroup, "new netns: cgroup = the cgroup v2 path of its members")
    assert_eq(e.get("cgroup"), cgroup_of(e.get("pid")), "new netns: cgroup = /proc/PID/cgroup of pid")
    assert_eq((e.get("limits") or {}).get("port_range"), [40000, 40009], "new netns: port_range")
    assert_eq(views(e), truth, "new netns, first appearance: destinations vs ss")
    assert_eq({r.get("addr"): r.get("in_use") for r in e.get("bind") or [] if r.get("in_use")},
              {LO: 2}, "new netns, first appearance: bind[] in_use")
    assert_eq((e.get("bind_held_in_range"), e.get("capacity")), (2, 8),
              "new netns, first appearance: bind_held_in_range, capacity")
    u = e.get("udp") or {}
    assert_eq((u.get("in_use"), u.get("capacity")), (udp_truth["in_use"], 10),
              "new netns, first appearance: udp in_use (ss -uan), capacity")

    wold.stop()
    old.close()                         # ip netns del, its processes killed
    doc = t.wait_for(lambda d: ns_by_cookie(d, old_cookie) is None,
                     f"deleted netns {old.name} (cookie {old_cookie}) gone from netns[]", timeout=5)
    assert_true(ns_by_cookie(doc, w.netns_cookie) is not None, "the other namespace is still listed")
    assert_eq(netns_fds(t.proc.pid, old_inum), [],
              "descriptors the tool holds on the deleted namespace (would keep it alive)")

    w.stop()
    new.close()                         # the container exits: its last process is gone
    t.wait_for(lambda d: ns_by_cookie(d, w.netns_cookie) is None,
               "the unnamed namespace gone from netns[] after its last process exited", timeout=5)
    assert_eq(netns_fds(t.proc.pid, new.inum), [],
              "descriptors the tool holds on the exited unnamed namespace")
    doc = t.next_doc(timeout=3)
    assert_true(t.proc.poll() is None, "connpressure still running", t.describe_exit())
    assert_eq(doc.get("lost", {}).get("map_full"), 0, "lost.map_full")


def test_selected_netns_deleted_ends_the_tool(ctx):
    """With -n NAME, the namespace deleted while the tool runs: one line on stderr saying so,
    exit status 1, nothing left attached."""
    import subprocess
    from lib import bpfstate
    ns = ctx.netns()
    before = bpfstate.snapshot()
    p = subprocess.Popen([ctx.binary, "-n", ns.name, "-o", "json", "-i", "0.2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx.defer(p.kill)
    assert_true(p.stdout.readline().startswith("{"), "first document before the deletion")
    ns.close()
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError("connpressure kept running after its namespace was deleted")
    assert_eq(p.returncode, 1, "exit status after the namespace is gone")
    lines = [l for l in err.splitlines() if l.strip()]
    assert_eq(len(lines), 1, f"one line on stderr ({err!r})")
    assert_in(ns.name, lines[0], "the line names the namespace")
    assert_eq(bpfstate.leftovers(before), [], "connpressure's BPF objects left after the exit")
