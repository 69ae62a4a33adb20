# SPDX-License-Identifier: GPL-2.0
# A long run keeps room for what is live: destinations whose kernel entries stayed empty for
# --prune-after seconds are deleted, so new destinations are counted even with a map that could
# not hold old and new together.
import os
import time

from lib.check import assert_eq
from lib.tool import dest, dest_field, failures

LO = "127.0.0.1"


def test_idle_destinations_make_room_for_new_ones(ctx):
    ns = ctx.netns(port_range=(40000, 40099))
    w = ctx.workload(ns, comm="cpt-prune")
    for port in (5101, 5102, 5103, 5201, 5202, 5203):
        w.listen(port)
    t = ctx.tool(ns, args=("--max-dests", "3", "--max-holders", "3", "--prune-after", "1"))
    old = w.connect(LO, 5101, n=1)["conns"] + w.connect(LO, 5102, n=1)["conns"] + \
        w.connect(LO, 5103, n=1)["conns"]
    t.wait_value(dest_field(ns.name, LO, LO, 5103, "in_use"), 1, "the third old destination")
    w.close([c["id"] for c in old], order="server_first")   # no TIME_WAIT on the client side
    time.sleep(3)                                           # two prune rounds
    m = t.mark()
    for port in (5201, 5202, 5203):
        w.connect(LO, port, n=2)
    for port in (5201, 5202, 5203):
        t.wait_value(dest_field(ns.name, LO, LO, port, "in_use"), 2,
                     f"a new destination :{port} counted after the idle ones were pruned",
                     since=m)
    doc = t.all_docs()[-1]
    assert_eq(doc["lost"]["map_full"], 0, "no insert refused: the idle entries made room")


def test_a_pruned_holder_is_named_again(ctx):
    """A process whose holder entry was pruned (it let go of its ports) and that connects to
    the same destination again is named again: the per-CPU cache of known holders on the BPF
    side (which skips looking the entry up) is emptied when user space prunes holders."""
    ns = ctx.netns(port_range=(40000, 40099))
    back = ctx.workload(ns, comm="cpt-back")
    back.listen(5101)
    os.sched_setaffinity(back.pid, {0})     # both rounds of connect() on one CPU's cache
    keep = ctx.workload(ns, comm="cpt-keep")
    t = ctx.tool(ns, args=("--prune-after", "1"))
    keep.connect(LO, 5101, n=1)             # keeps the destination, and its id, alive
    first = back.connect(LO, 5101, n=1)["conns"]
    t.wait_value(dest_field(ns.name, LO, LO, 5101, "in_use"), 2, "both connections counted")
    back.close([c["id"] for c in first], order="server_first")  # no TIME_WAIT to hold it
    time.sleep(3)                           # two prune rounds: cpt-back's holder is deleted
    m = t.mark()
    back.connect(LO, 5101, n=2)
    doc = t.wait_value(dest_field(ns.name, LO, LO, 5101, "in_use"), 3,
                       "cpt-back's new connections counted", since=m)
    top = dest(doc, ns.name, LO, LO, 5101)["top_holder"]
    assert_eq((top["pid"], top["comm"], top["count"]), (back.pid, back.comm, 2),
              "the top holder, named again after its entry was pruned")


def test_idle_failures_make_room_when_the_map_fills(ctx):
    """Failure rows are history and stay while there is room; once the failures map is half
    full, rows idle for --prune-after are deleted, so a new failing process is still reported
    (without pruning its insert is refused: lost.map_full)."""
    ns = ctx.netns()
    srv = ctx.workload(ns, comm="cpt-server")
    srv.listen(5000)
    t = ctx.tool(ns, args=("--max-failures", "2", "--prune-after", "1"))
    assert_eq(len(srv.connect(LO, 5000, n=10)["conns"]), 10, "workload: range filled (precondition)")
    old = [ctx.workload(ns, comm=f"cpt-fail-{i}") for i in (1, 2)]
    for w in old:
        assert_eq(len(w.connect(LO, 5000, n=1)["errors"]), 1, "workload: an old failure")
    t.wait_for(lambda d: all(failures(d, ns.name, LO, 5000, w.pid) for w in old),
               "both old failures reported (the map is full now)")
    t.wait_for(lambda d: not any(failures(d, ns.name, LO, 5000, w.pid) for w in old),
               "the idle rows pruned (two rounds of --prune-after 1)", timeout=6)
    m = t.mark()
    new = ctx.workload(ns, comm="cpt-fail-new")
    assert_eq(len(new.connect(LO, 5000, n=1)["errors"]), 1, "workload: a new failure")
    doc = t.wait_for(lambda d: failures(d, ns.name, LO, 5000, new.pid),
                     "the new process's failure reported after the idle rows were pruned",
                     since=m)
    f = failures(doc, ns.name, LO, 5000, new.pid)[0]
    assert_eq((f.get("comm"), f.get("total")), (new.comm, 1), "the new failure row")
    assert_eq(doc["lost"]["map_full"], 0, "no insert refused: the idle rows made room")


def test_failures_kept_while_the_map_has_room(ctx):
    """Below half full, an idle failure row is history and stays (total unchanged)."""
    ns = ctx.netns()
    srv = ctx.workload(ns, comm="cpt-server")
    srv.listen(5000)
    t = ctx.tool(ns, args=("--prune-after", "1"))
    assert_eq(len(srv.connect(LO, 5000, n=10)["conns"]), 10, "workload: range filled (precondition)")
    w = ctx.workload(ns, comm="cpt-fail-old")
    assert_eq(len(w.connect(LO, 5000, n=1)["errors"]), 1, "workload: one failure")
    t.wait_for(lambda d: failures(d, ns.name, LO, 5000, w.pid), "the failure reported")
    time.sleep(3)                                           # past two prune rounds
    f = failures(t.all_docs()[-1], ns.name, LO, 5000, w.pid)
    assert_eq([x.get("total") for x in f], [1], "the idle failure row is still there, total 1")
