# SPDX-License-Identifier: GPL-2.0
# in_use / capacity / pressure per destination on a 10-port range, against ss and the kernel's own
# refusals (EADDRNOTAVAIL once capacity is used up).
from lib import ss
from lib.check import assert_close, assert_eq, assert_true
from lib.tool import all_views, dest, dest_field, dest_view, ns_entry

LO = "127.0.0.1"
# pressure may be printed rounded to 4 decimals (2/7 -> 0.2857); exact values (n/10) must be exact.
PRESSURE_TOL = 5e-5
ZERO = {"established": 0, "syn_sent": 0, "time_wait": 0, "other": 0}


def states(**kw):
    return dict(ZERO, **kw)


def ns_field(name, field):
    def get(doc):
        e = ns_entry(doc, name)
        return None if e is None else e.get(field)
    return get


def test_one_destination_in_use_capacity_pressure(ctx):
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-holder")
    w.listen(5000)
    t = ctx.tool(ns)

    r = w.connect(LO, 5000, n=4)
    assert_eq(len(r["conns"]), 4, "workload: connections opened")
    truth = ss.truth(ns)
    assert_eq(truth.get((LO, LO, 5000), ss.empty_view())["in_use"], 4,
              "ss: client sockets 127.0.0.1->127.0.0.1:5000 in range (test precondition)")
    doc = t.wait_value(dest_field(ns.name, LO, LO, 5000, "in_use"), 4, "in_use 127.0.0.1->:5000")
    d = dest(doc, ns.name, LO, LO, 5000)
    assert_eq(d.get("capacity"), 10, "capacity (10-port range, nothing reserved or bound)")
    assert_close(d.get("pressure"), 0.4, "pressure = in_use/capacity = 4/10")
    assert_eq(d.get("states"), states(established=4), "states of 127.0.0.1->:5000")
    assert_eq(dest_view(doc, ns.name, LO, LO, 5000), truth[(LO, LO, 5000)],
              "destination view vs ss")
    assert_eq(all_views(doc, ns.name), truth,
              "all destinations vs ss (accepted sockets of the listener must not count)")
    th = d.get("top_holder") or {}
    assert_eq((th.get("pid"), th.get("comm"), th.get("count")), (w.pid, w.comm, 4),
              "top_holder (pid, comm, count) = the workload that connected")
    e = ns_entry(doc, ns.name)
    assert_eq(e.get("limits", {}).get("port_range"), [40000, 40009], "limits.port_range")
    assert_eq(e.get("capacity"), 10, "netns capacity")
    assert_eq(e.get("bind_held_in_range"), 0, "bind_held_in_range")

    r = w.connect(LO, 5000, n=6)
    assert_eq(len(r["conns"]), 6, "workload: 6 more connections opened")
    doc = t.wait_value(dest_field(ns.name, LO, LO, 5000, "in_use"), 10, "in_use after 10 connects")
    d = dest(doc, ns.name, LO, LO, 5000)
    assert_close(d.get("pressure"), 1.0, "pressure when every port is used")
    assert_eq(d.get("top_holder", {}).get("count") if d.get("top_holder") else None, 10,
              "top_holder.count after 10 connects")
    rates = [x.get("new_per_second", 0) for doc in t.all_docs()
             for x in [dest(doc, ns.name, LO, LO, 5000)] if x]
    assert_true(any(isinstance(v, (int, float)) and v > 0 for v in rates),
                "new_per_second > 0 in some interval while connections were opened", str(rates))


def test_new_per_second_adds_up_to_the_connects(ctx):
    """new_per_second x interval_seconds, summed over the documents, is every port connect()
    took, including the first interval of a destination nobody had connected to before (a
    burst that starts and ends within it; the count since the entry was made is all new)."""
    ns = ctx.netns(port_range=(40000, 40099))
    w = ctx.workload(ns, comm="cpt-rate")
    w.listen(5000)
    t = ctx.tool(ns)
    t.wait_for(lambda d: ns_entry(d, ns.name) is not None, "the namespace shown")
    m = t.mark()
    r = w.connect(LO, 5000, n=30)
    assert_eq(len(r["conns"]), 30, "workload: 30 connections opened")
    w.close([c["id"] for c in r["conns"][:20]], order="server_first")
    r = w.connect(LO, 5000, n=5)
    assert_eq(len(r["conns"]), 5, "workload: 5 more opened")
    t.wait_value(dest_field(ns.name, LO, LO, 5000, "in_use"), 15, "in_use after the churn",
                 since=m)
    t.wait_value(dest_field(ns.name, LO, LO, 5000, "new_per_second"), 0.0,
                 "no new ports any more")
    rows = [(x["new_per_second"], doc["interval_seconds"]) for doc in t.all_docs()[m:]
            for x in [dest(doc, ns.name, LO, LO, 5000)] if x]
    total = sum(rate * iv for rate, iv in rows)
    # Both are printed rounded (2 and 3 decimals): that much error per document, no more.
    tol = sum(0.005 * iv + 0.0005 * rate for rate, iv in rows) + 1e-6
    assert_close(total, 35, "sum of new_per_second x interval_seconds = ports connect() took",
                 tol=tol)


def test_second_destination_counted_separately(ctx):
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-multi")
    w.listen(5000)
    w.listen(5001)
    w.listen(5000, addr="127.0.0.2")
    t = ctx.tool(ns)
    keys, ports = [], []
    for daddr, dport in ((LO, 5000), (LO, 5001), ("127.0.0.2", 5000)):
        r = w.connect(daddr, dport, n=10)
        assert_eq((len(r["conns"]), r["errors"]), (10, []),
                  f"kernel: 10 connects to {daddr}:{dport} succeed on the 10-port range")
        keys.append((r["conns"][0]["saddr"], daddr, dport))
        ports.append(sorted(c["sport"] for c in r["conns"]))
    assert_true(ports[0] == ports[1] == ports[2],
                "the three destinations share the same 10 local ports", str(ports))
    truth = ss.truth(ns)
    for key in keys:
        assert_eq(truth.get(key, ss.empty_view())["in_use"], 10, f"ss in_use {key}")
    doc = t.wait_value(lambda d: all_views(d, ns.name), truth,
                       "per-destination in_use/states vs ss", timeout=5)
    for key in keys:
        d = dest(doc, ns.name, *key)
        assert_eq((d.get("capacity"), d.get("pressure")), (10, 1.0),
                  f"capacity, pressure of {key}")


def test_reserved_ports_lower_capacity(ctx):
    ns = ctx.netns(sysctls={"net.ipv4.ip_local_reserved_ports": "40000-40002,50000"})
    assert_eq(ns.sysctl("net.ipv4.ip_local_reserved_ports"), "40000-40002,50000",
              "sysctl reserved ports (precondition)")
    w = ctx.workload(ns, comm="cpt-reserved")
    w.listen(5000)
    t = ctx.tool(ns)
    w.connect(LO, 5000, n=2)
    doc = t.wait_value(dest_field(ns.name, LO, LO, 5000, "in_use"), 2, "in_use after 2 connects")
    d = dest(doc, ns.name, LO, LO, 5000)
    e = ns_entry(doc, ns.name)
    assert_eq(e.get("limits", {}).get("reserved_in_range"), 3,
              "limits.reserved_in_range (40000-40002 in range, 50000 not)")
    assert_eq(d.get("capacity"), 7, "capacity = 10 - 3 reserved")
    assert_close(d.get("pressure"), 2 / 7, "pressure = 2/7", tol=PRESSURE_TOL)

    r = w.connect(LO, 5000, n=8)
    assert_eq((len(r["conns"]), [x["error"] for x in r["errors"]]),
              (5, ["EADDRNOTAVAIL"] * 3), "kernel: only 7 ports usable (5 more ok, 3 refused)")
    doc = t.wait_value(dest_field(ns.name, LO, LO, 5000, "in_use"), 7, "in_use at kernel's limit")
    d = dest(doc, ns.name, LO, LO, 5000)
    assert_eq((d.get("capacity"), d.get("pressure")), (7, 1.0), "capacity, pressure when full")


def test_bind_holders_before_start_lower_capacity(ctx):
    """A listener in the range, an explicit bind() and a bind(0), all made before the tool starts:
    the seeded first output already counts them (bound-only sockets are invisible to iter/tcp)."""
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-binder")
    w.listen(5000)
    w.listen(40005, addr="0.0.0.0")
    b = w.bind(40006)
    assert_eq(b.get("port"), 40006, "explicit bind to 40006 (precondition)")
    b0 = w.bind(0)
    assert_true(40000 <= b0.get("port", 0) <= 40009, "bind(0) got a port in the range", str(b0))
    r = w.connect(LO, 5000, n=10)
    assert_eq((len(r["conns"]), len(r["errors"])), (7, 3),
              "kernel: 7 connects succeed, 3 refused, with 3 ports held by bind()")
    doc = ctx.once(ns)
    e = ns_entry(doc, ns.name)
    assert_true(e is not None, f"netns {ns.name} in output")
    assert_eq(e.get("bind_held_in_range"), 3, "bind_held_in_range (listener, bind, bind(0))")
    assert_eq(e.get("capacity"), 7, "netns capacity = 10 - 3 held by bind()")
    d = dest(doc, ns.name, LO, LO, 5000)
    assert_true(d is not None, "destination 127.0.0.1->:5000 present")
    assert_eq((d.get("in_use"), d.get("capacity"), d.get("pressure")), (7, 7, 1.0),
              "in_use, capacity, pressure")
    truth = ss.truth(ns)
    assert_eq(all_views(doc, ns.name), truth,
              "destinations vs ss (the in-range listener's sockets must not appear)")


def test_bind_holders_while_running_change_capacity(ctx):
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-binder")
    w.listen(5000)
    t = ctx.tool(ns)
    r = w.connect(LO, 5000, n=2)
    t.wait_value(dest_field(ns.name, LO, LO, 5000, "in_use"), 2, "in_use after 2 connects")
    free = sorted(set(range(40000, 40010)) - {c["sport"] for c in r["conns"]})
    lst = w.listen(free[0], addr="0.0.0.0")
    t.wait_value(dest_field(ns.name, LO, LO, 5000, "capacity"), 9,
                 f"capacity after a listener on 0.0.0.0:{free[0]} (in range)")
    b = w.bind(free[1])
    assert_eq(b.get("port"), free[1], f"explicit bind to {free[1]} (precondition)")
    t.wait_value(dest_field(ns.name, LO, LO, 5000, "capacity"), 8, f"capacity after bind({free[1]})")
    b0 = w.bind(0)
    assert_true(40000 <= b0.get("port", 0) <= 40009, "bind(0) got a port in the range", str(b0))
    doc = t.wait_value(dest_field(ns.name, LO, LO, 5000, "capacity"), 7, "capacity after bind(0)")
    assert_eq(ns_entry(doc, ns.name).get("bind_held_in_range"), 3, "bind_held_in_range")
    assert_close(dest(doc, ns.name, LO, LO, 5000).get("pressure"), 2 / 7, "pressure = 2/7",
                 tol=PRESSURE_TOL)
    w.close([b["id"]])
    t.wait_value(dest_field(ns.name, LO, LO, 5000, "capacity"), 8,
                 f"capacity after closing bind({free[1]})")
    w.close([lst["id"]])
    doc = t.wait_value(dest_field(ns.name, LO, LO, 5000, "capacity"), 9,
                       "capacity after closing the listener")
    assert_eq(ns_entry(doc, ns.name).get("bind_held_in_range"), 1, "bind_held_in_range at the end")
    r = w.connect(LO, 5000, n=10)
    assert_eq(len(r["conns"]), 7, "kernel: 7 more connects fit (2 used + 1 bound of 10)")


def test_top_holder_is_the_process_holding_most(ctx):
    ns = ctx.netns()
    srv = ctx.workload(ns, comm="cpt-server")
    srv.listen(5000)
    a = ctx.workload(ns, comm="cpt-holder-a")
    b = ctx.workload(ns, comm="cpt-holder-b")
    t = ctx.tool(ns)
    a.connect(LO, 5000, n=3)
    rb = b.connect(LO, 5000, n=5)
    get = dest_field(ns.name, LO, LO, 5000, "top_holder")
    t.wait_value(lambda d: (get(d) or {}).get("pid"), b.pid, "top_holder pid while b holds 5 of 8")
    doc = t.wait_value(dest_field(ns.name, LO, LO, 5000, "in_use"), 8, "in_use")
    th = get(doc) or {}
    assert_eq((th.get("pid"), th.get("comm"), th.get("count")), (b.pid, b.comm, 5),
              "top_holder (pid, comm, count) = process b")
    res = srv.cmd("close_accepted", ports=[c["sport"] for c in rb["conns"]])
    assert_eq(res.get("closed"), 5, "server closed b's 5 connections first (precondition)")
    b.close([c["id"] for c in rb["conns"]], order="after_peer")
    doc = t.wait_value(lambda d: (get(d) or {}).get("pid"), a.pid,
                       "top_holder pid after b's sockets are gone (server closed first)")
    th = get(doc) or {}
    assert_eq((th.get("pid"), th.get("comm"), th.get("count")), (a.pid, a.comm, 3),
              "top_holder (pid, comm, count) = process a")


def test_bind_before_connect_is_not_in_use(ctx):
    """A port chosen by bind() before connect() is held by bind (capacity), not in_use."""
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-bbc")
    w.listen(5000)
    t = ctx.tool(ns)
    r = w.connect(LO, 5000, n=1, bind=[LO, 0])
    assert_eq(len(r["conns"]), 1, "workload: bind(0) then connect")
    bound = r["conns"][0]["sport"]
    r = w.connect(LO, 5000, n=2)
    assert_eq(len(r["conns"]), 2, "workload: 2 plain connects")
    truth = ss.truth(ns, exclude_lports={bound})
    doc = t.wait_value(lambda d: all_views(d, ns.name), truth,
                       f"destinations vs ss without the bind()-chosen port {bound}", timeout=5)
    e = ns_entry(doc, ns.name)
    assert_eq((e.get("bind_held_in_range"), e.get("capacity")), (1, 9),
              "bind_held_in_range, capacity with one bind-before-connect socket")
    r = w.connect(LO, 5000, n=10)
    assert_eq(len(r["conns"]), 7, "kernel: 7 more plain connects fit (10 - 2 - 1 bound)")
