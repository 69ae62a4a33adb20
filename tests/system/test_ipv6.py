# SPDX-License-Identifier: GPL-2.0
# IPv6 destinations, and v4-mapped IPv6 connects reported (and counted) as the IPv4 destination.
from lib import ss
from lib.check import assert_close, assert_eq, assert_true
from lib.tool import all_views, dest, dest_field

LO = "127.0.0.1"


def test_ipv6_loopback_destination(ctx):
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-v6")
    w.listen(5000, addr="::1", family="inet6")
    t = ctx.tool(ns)
    r = w.connect("::1", 5000, n=3, family="inet6")
    assert_eq(len(r["conns"]), 3, "workload: IPv6 connections opened")
    doc = t.wait_value(dest_field(ns.name, "::1", "::1", 5000, "in_use"), 3,
                       "in_use of ::1 -> [::1]:5000")
    d = dest(doc, ns.name, "::1", "::1", 5000)
    assert_eq(d.get("capacity"), 10, "capacity (IPv6 draws from the same 10-port range)")
    assert_close(d.get("pressure"), 0.3, "pressure 3/10")
    assert_eq(all_views(doc, ns.name), ss.truth(ns), "destinations vs ss")
    th = d.get("top_holder") or {}
    assert_eq((th.get("pid"), th.get("comm"), th.get("count")), (w.pid, w.comm, 3), "top_holder")


def test_v4_mapped_shows_as_ipv4(ctx):
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-mapped")
    w.listen(5000)
    t = ctx.tool(ns)
    r6 = w.connect("::ffff:127.0.0.1", 5000, n=3, family="inet6", v6only=False)
    assert_eq(len(r6["conns"]), 3, "workload: v4-mapped connections opened")
    r4 = w.connect(LO, 5000, n=2)
    assert_eq(len(r4["conns"]), 2, "workload: IPv4 connections opened")
    doc = t.wait_value(dest_field(ns.name, LO, LO, 5000, "in_use"), 5,
                       "in_use of 127.0.0.1->127.0.0.1:5000 (3 v4-mapped + 2 IPv4 sockets)")
    views = all_views(doc, ns.name)
    assert_eq(sorted(views), [(LO, LO, 5000)],
              "only one destination, in IPv4 form (no ::ffff: addresses)")
    assert_eq(views, ss.truth(ns), "destination vs ss")
    r = w.connect("::ffff:127.0.0.1", 5000, n=6, family="inet6", v6only=False)
    assert_eq((len(r["conns"]), [e["error"] for e in r["errors"]]), (5, ["EADDRNOTAVAIL"]),
              "kernel: v4-mapped and IPv4 sockets share the destination's 10 ports")
    doc = t.wait_value(dest_field(ns.name, LO, LO, 5000, "in_use"), 10, "in_use when full")
    assert_close(dest(doc, ns.name, LO, LO, 5000).get("pressure"), 1.0, "pressure when full")
    for e in doc.get("netns", []):
        for d in e.get("destinations", []) + e.get("failures", []):
            assert_true("::ffff:" not in f"{d.get('saddr')} {d.get('daddr')}",
                        "no v4-mapped address printed", str(d))
