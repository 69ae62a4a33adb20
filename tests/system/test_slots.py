# SPDX-License-Identifier: GPL-2.0
# connect()-side sockets are followed in slots (sock_slots, --sock-slots); a socket whose slot is
# taken falls back to sk_storage. Both paths must count the same: the same life cycle runs with the
# default slots and with a single slot (every socket but one falls back), compared with ss.
from lib import ss
from lib.check import assert_eq, assert_true
from lib.procs import wait_until
from lib.tool import dest, dest_view, failures

LO = "127.0.0.1"
KEY = (LO, LO, 5000)


def life_cycle(ctx, args):
    """Established, TIME_WAIT (client closed first), CLOSE_WAIT (server closed first), then the
    range runs out: every step vs ss. Returns the last document."""
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-slots")
    w.listen(5000)
    t = ctx.tool(ns, args=args)
    r = w.connect(LO, 5000, n=8)
    assert_eq(len(r["conns"]), 8, "workload: 8 connections")
    t.wait_value(lambda d: dest_view(d, ns.name, *KEY), ss.truth(ns)[KEY],
                 "8 established vs ss", timeout=5)
    ids = [c["id"] for c in r["conns"]]
    w.close(ids[:3], order="client_first")
    w.close(ids[3:5], order="server_only")
    assert_true(wait_until(lambda: ss.count_state(ns, "TIME-WAIT", LO, 5000) == 3 and
                           ss.count_state(ns, "CLOSE-WAIT", LO, 5000) == 2, 3),
                "ss: 3 TIME-WAIT and 2 CLOSE-WAIT (precondition)", ns.run(["ss", "-tan"]).stdout)
    truth = ss.truth(ns)[KEY]
    assert_eq(truth["in_use"], 8, "ss: 8 ports held (precondition)")
    doc = t.wait_value(lambda d: dest_view(d, ns.name, *KEY), truth,
                       "TIME_WAIT and CLOSE_WAIT vs ss", timeout=5)
    th = dest(doc, ns.name, *KEY).get("top_holder") or {}
    assert_eq((th.get("pid"), th.get("count")), (w.pid, 8), "top_holder holds all 8 ports")
    r = w.connect(LO, 5000, n=4)
    assert_eq((len(r["conns"]), [e["error"] for e in r["errors"]]), (2, ["EADDRNOTAVAIL"] * 2),
              "workload: 2 more connect, 2 find no port (precondition)")
    t.wait_value(lambda d: dest_view(d, ns.name, *KEY), ss.truth(ns)[KEY],
                 "range exhausted vs ss", timeout=5)
    doc = t.wait_value(lambda d: sum(f.get("total", 0) for f in failures(d, ns.name, LO, 5000)),
                       2, "EADDRNOTAVAIL failures counted", timeout=5)
    return doc


def test_slotted_sockets_counted_like_ss(ctx):
    doc = life_cycle(ctx, ())
    assert_eq(doc.get("sock_slots", {}).get("size"), 262144, "sock_slots.size (default)")


def test_sockets_beyond_the_slots_counted_like_ss(ctx):
    doc = life_cycle(ctx, ("--sock-slots", "1"))
    slots = doc.get("sock_slots", {})
    assert_eq(slots.get("size"), 1, "sock_slots.size")
    # The one slot went to the first connect, and once more when a closed socket freed it.
    assert_true(slots.get("fallbacks", 0) >= 10,
                "sock_slots.fallbacks: at least 10 of 12 connects fell back to sk_storage",
                repr(slots))
