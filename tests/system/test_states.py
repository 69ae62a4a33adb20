# SPDX-License-Identifier: GPL-2.0
# SYN_SENT sockets (a listener whose accept queue is full drops their SYNs) hold their port:
# in_use and states.syn_sent, while the tool runs and when seeded.
from lib import ss
from lib.check import assert_eq, assert_true
from lib.procs import wait_until
from lib.tool import dest, dest_view, ns_entry

LO = "127.0.0.1"
KEY = (LO, LO, 5005)


def test_syn_sent_counted(ctx):
    ns = ctx.netns()
    srv = ctx.workload(ns, comm="cpt-full-srv")
    srv.listen(5005, backlog=0, accept=False)
    w = ctx.workload(ns, comm="cpt-synsent")
    t = ctx.tool(ns)
    r = w.connect(LO, 5005, n=1)
    assert_eq(len(r["conns"]), 1, "workload: first connect fills the accept queue")
    r = w.connect(LO, 5005, n=3, nonblock=True, wait=False)
    assert_eq(len(r["conns"]), 3, "workload: 3 non-blocking connects in progress")
    assert_true(wait_until(lambda: ss.count_state(ns, "SYN-SENT", LO, 5005) == 3, 2),
                "ss: 3 SYN-SENT sockets (precondition)", ns.run(["ss", "-tan"]).stdout)
    truth = ss.truth(ns)
    assert_eq(truth[KEY]["states"], {"established": 1, "syn_sent": 3, "time_wait": 0, "other": 0},
              "ss view (precondition)")
    doc = t.wait_value(lambda d: dest_view(d, ns.name, *KEY), truth[KEY],
                       "streaming: destination with SYN_SENT sockets vs ss", timeout=5)
    d = dest(doc, ns.name, *KEY)
    th = d.get("top_holder") or {}
    assert_eq((th.get("pid"), th.get("comm"), th.get("count")), (w.pid, w.comm, 4), "top_holder")
    doc = ctx.once(ns)
    assert_eq(dest_view(doc, ns.name, *KEY), ss.truth(ns)[KEY],
              "--once (seeded): destination with SYN_SENT sockets vs ss")
    assert_eq(ns_entry(doc, ns.name).get("capacity"), 10, "capacity")


RETRY = r"""
import socket, sys, time
s = socket.socket()
try:
    s.connect(("127.0.0.1", 5006))
    print("first connected", flush=True)
except ConnectionRefusedError:
    print("first refused", flush=True)
sys.stdin.readline()                 # the test starts a listener meanwhile
s.connect(("127.0.0.1", 5006))       # the same socket, connect() again
print("second connected", flush=True)
sys.stdin.readline()
"""


def test_connect_again_on_the_same_socket_counted(ctx):
    """A client that retries connect() on the socket whose first connect() was refused holds a
    port again: in_use follows ss."""
    import subprocess
    ns = ctx.netns()
    t = ctx.tool(ns)
    p = subprocess.Popen(ns.exec_argv(["python3", "-c", RETRY]), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    ctx.defer(p.kill)
    assert_eq(p.stdout.readline().strip(), "first refused", "kernel: nobody listens yet")
    srv = ctx.workload(ns, comm="cpt-retry-srv")
    srv.listen(5006)
    p.stdin.write("\n")
    p.stdin.flush()
    assert_eq(p.stdout.readline().strip(), "second connected", "kernel: the retry connects")
    truth = ss.truth(ns)
    assert_eq(truth[(LO, LO, 5006)]["in_use"], 1, "ss: one client socket (precondition)")
    t.wait_value(lambda d: dest_view(d, ns.name, LO, LO, 5006), truth[(LO, LO, 5006)],
                 "streaming: the retried socket vs ss", timeout=5)
