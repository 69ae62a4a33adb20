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
