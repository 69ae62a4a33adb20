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


THREAD_NS_HELPER = r"""
import ctypes, os, socket, sys, threading
CLONE_NEWNET = 0x40000000
ready = threading.Event()
def hold():
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET):
        print("unshare failed", ctypes.get_errno(), flush=True)
    else:
        s = socket.socket()
        cookie = int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 71, 8), "little")
        inum = os.stat(f"/proc/self/task/{threading.get_native_id()}/ns/net").st_ino
        print(cookie, inum, flush=True)
    ready.set()
    sys.stdin.read()             # held until the test closes stdin
threading.Thread(target=hold, daemon=True).start()
ready.wait()
sys.stdin.read()
"""


def test_netns_held_by_one_thread_found(ctx):
    """A namespace only one thread of a process is in (it called unshare(CLONE_NEWNET); the
    process's main thread stays in the initial one) is found while the tool runs, labelled
    with that process's pid, and dropped when the thread's process exits."""
    import subprocess
    from lib import procs
    t = ctx.tool(interval=0.3)
    p = procs.spawn(["python3", "-c", THREAD_NS_HELPER], what="thread netns holder",
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ctx.defer(p.kill)
    line = p.stdout.readline().split()
    assert_eq(len(line), 2, f"the helper's thread made a namespace ({line})")
    cookie, inum = int(line[0]), int(line[1])
    assert_true(inum != os.stat(f"/proc/{p.pid}/ns/net").st_ino,
                "the helper's main thread is still in the initial namespace")
    doc = t.wait_for(lambda d: ns_by_cookie(d, cookie) is not None,
                     "the namespace held by one thread appears", timeout=5)
    e = ns_by_cookie(doc, cookie)
    assert_eq((e.get("inum"), e.get("pid")), (inum, p.pid), "thread's netns: inum, pid")
    p.stdin.close()
    p.wait(timeout=5)
    t.wait_for(lambda d: ns_by_cookie(d, cookie) is None,
               "the thread's namespace gone after its process exited", timeout=5)
    assert_eq(netns_fds(t.proc.pid, inum), [], "descriptors the tool holds on that namespace")


PIDNS_SCRIPT = r"""
f=$(mktemp)
# The child makes a namespace and says its pid as this /proc numbers it (NSpid's first
# field; sh reads its own status) and the namespace's inode, then becomes `sleep`.
unshare -n sh -c 'while read k v r; do [ "$k" = NSpid: ] && p=$v; done < /proc/self/status
echo "$p $(stat -L -c %i /proc/self/ns/net)" > "$0"; exec sleep 30' "$f" &
for i in $(seq 50); do [ -s "$f" ] && break; sleep 0.1; done
cat "$f"; rm -f "$f"
"$1" --once -o json
kill $!
"""


def test_netns_found_from_a_pid_namespace_of_its_own(ctx):
    """connpressure in a pid namespace of its own (a container), a namespace made by a process
    beside it (`unshare -n`): found, labelled with that process's pid as connpressure's /proc
    numbers it, both with a /proc of its own pid namespace (the iterator's walk, which numbers
    tasks as that namespace does) and with the host's /proc (then /proc is walked)."""
    import json
    import subprocess
    for mount_proc in (True, False):
        argv = (["unshare", "-pf"] + (["--mount-proc"] if mount_proc else []) +
                ["sh", "-c", PIDNS_SCRIPT, "sh", ctx.binary])
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        what = "own /proc" if mount_proc else "host /proc"
        assert_eq(p.returncode, 0, f"{what}: exit code (stderr: {p.stderr[-300:]})")
        first, doc = p.stdout.split("\n", 1)
        pid, inum = (int(x) for x in first.split())
        found = {n.get("inum"): n.get("pid") for n in json.loads(doc)["netns"]}
        assert_in(inum, found, f"{what}: the namespace made beside it (pid {pid}) found")
        assert_eq(found[inum], pid, f"{what}: labelled with the pid its /proc shows")
