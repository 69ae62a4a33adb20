# SPDX-License-Identifier: GPL-2.0
# Ports held by bind(): bind[] per local address (bind(0) runs out per address, a wildcard conflicts
# with every address), bind(0) EADDRINUSE failures attributed while the syscall hooks are armed,
# bind-held ports lowering every destination's capacity, IP_BIND_ADDRESS_NO_PORT sharing ports like
# connect(), and IP_LOCAL_PORT_RANGE destinations counted against their own range. Ground truth: the
# ports and errors the workload's bind()/connect() got, and ss.
from lib import ss
from lib.check import assert_close, assert_eq, assert_true, skip
from lib.tool import (all_views, armed, bind_in_use, bind_row, dest, dest_field, failure_key,
                      failure_rows, ns_entry)

LO = "127.0.0.1"
LO2 = "127.0.0.2"
RANGE = range(40000, 40010)
PRESSURE_TOL = 5e-5


def errs(r):
    return [e["error"] for e in r["errors"]]


def ports_of(r, key="binds"):
    """Local ports a bind_many ("binds") or connect ("conns") answer got."""
    field = "port" if key == "binds" else "sport"
    return {b[field] for b in r[key]}


def eaddrinuse_rows(name):
    """Getter: sorted (proto, saddr, daddr, dport, error, pid, comm, total) of EADDRINUSE rows."""
    def get(doc):
        return sorted(failure_key(f) for f in failure_rows(doc, name, error="EADDRINUSE"))
    return get


def test_bind0_exhausts_per_local_address_eaddrinuse_attributed(ctx):
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-bind0")
    t = ctx.tool(ns, args=["--arm-syscalls"])
    assert_eq(armed(t.all_docs()[0]), (True, "flag"),
              "hooks.syscalls (armed, reason) with --arm-syscalls")
    m = t.mark()
    r1 = w.bind_many(11, addr=LO)
    assert_eq((len(r1["binds"]), errs(r1)), (10, ["EADDRINUSE"]),
              "kernel: 10 bind(127.0.0.1, 0) succeed on the 10-port range, the 11th EADDRINUSE")
    assert_eq(ports_of(r1), set(RANGE), "kernel: bind(0) ports on 127.0.0.1 = the whole range")
    r2 = w.bind_many(10, addr=LO2)
    assert_eq((len(r2["binds"]), errs(r2)), (10, []),
              "kernel: 127.0.0.2 gets the whole range again (bind(0) runs out per local address)")
    r3 = w.bind_many(1, addr="0.0.0.0")
    assert_eq(errs(r3), ["EADDRINUSE"],
              "kernel: bind(0.0.0.0, 0) finds no port (the wildcard conflicts with both)")

    doc = t.wait_value(lambda d: bind_in_use(d, ns.name), {LO: 10, LO2: 10},
                       "bind[] in_use per local address (rows with in_use > 0)", since=m)
    for addr in (LO, LO2):
        row = bind_row(doc, ns.name, addr)
        assert_eq(row.get("capacity"), 10,
                  f"bind[{addr}].capacity (range 10, no wildcard holds a port)")
        assert_close(row.get("pressure"), 1.0, f"bind[{addr}].pressure = 10/10")
    wild = bind_row(doc, ns.name, "0.0.0.0")
    if wild is not None:
        assert_eq((wild.get("in_use"), wild.get("capacity")), (0, 0),
                  "bind[0.0.0.0] (if listed): in_use 0, capacity 0 (every port held elsewhere)")
    e = ns_entry(doc, ns.name)
    assert_eq((e.get("bind_held_in_range"), e.get("capacity")), (10, 0),
              "netns bind_held_in_range, capacity (every port of the range held by bind())")

    want = sorted([("tcp", LO, None, None, "EADDRINUSE", w.pid, w.comm, 1),
                   ("tcp", "0.0.0.0", None, None, "EADDRINUSE", w.pid, w.comm, 1)])
    t.wait_value(eaddrinuse_rows(ns.name), want,
                 "bind(0) EADDRINUSE failures (proto, saddr = address asked for, daddr, dport, "
                 "error, pid, comm, total)", since=m)

    w.close([b["id"] for b in r1["binds"]])
    t.wait_value(lambda d: bind_in_use(d, ns.name), {LO2: 10},
                 "bind[] in_use after closing the 127.0.0.1 sockets")


def test_bind_held_ports_lower_every_destination_capacity(ctx):
    ns = ctx.netns()
    srv = ctx.workload(ns, comm="cpt-server")
    srv.listen(5000, addr="0.0.0.0")
    srv.listen(5001, addr="0.0.0.0")
    w = ctx.workload(ns, comm="cpt-bindcap")
    t = ctx.tool(ns)
    w.listen(40005, addr="0.0.0.0")                 # in-range wildcard listener
    b2 = w.bind_many(1, addr=LO2, port=40003)       # explicit bind on 127.0.0.2
    b1 = w.bind_many(1, addr=LO)                    # bind(0) on 127.0.0.1
    assert_eq((errs(b2), errs(b1)), ([], []), "kernel: the binds succeed (precondition)")
    held = {"0.0.0.0": {40005}, LO2: {40003}, LO: ports_of(b1)}
    assert_true(ports_of(b1) <= set(RANGE) and 40005 not in ports_of(b1),
                "kernel: bind(127.0.0.1, 0) got a range port other than the wildcard's",
                str(ports_of(b1)))
    distinct = set().union(*held.values())
    doc = t.wait_value(lambda d: bind_in_use(d, ns.name), {a: 1 for a in held},
                       "bind[] in_use per local address")
    specific = held[LO] | held[LO2]
    want_cap = {LO: 10 - len(held["0.0.0.0"] - held[LO]),
                LO2: 10 - len(held["0.0.0.0"] - held[LO2]),
                "0.0.0.0": 10 - len(specific - held["0.0.0.0"])}
    for addr, cap in want_cap.items():
        row = bind_row(doc, ns.name, addr)
        assert_eq(row.get("capacity"), cap,
                  f"bind[{addr}].capacity = range - ports held on conflicting addresses")
        assert_close(row.get("pressure"), 1 / cap, f"bind[{addr}].pressure = 1/{cap}",
                     tol=PRESSURE_TOL)
    e = ns_entry(doc, ns.name)
    assert_eq((e.get("bind_held_in_range"), e.get("capacity")), (len(distinct), 10 - len(distinct)),
              f"netns bind_held_in_range, capacity (bind-held ports {sorted(distinct)})")

    got = {}
    for daddr, dport in ((LO, 5000), (LO, 5001), (LO2, 5000)):
        r = w.connect(daddr, dport, n=10)
        got[(daddr, dport)] = (len(r["conns"]), errs(r)[:1])
        assert_true(not ports_of(r, "conns") & distinct,
                    f"kernel: connect() to {daddr}:{dport} never took a bind-held port")
    free = 10 - len(distinct)
    assert_eq(got, {k: (free, ["EADDRNOTAVAIL"]) for k in got},
              f"kernel: every destination gets only the {free} ports bind() does not hold")
    truth = ss.truth(ns, exclude_lports=distinct)
    doc = t.wait_value(lambda d: all_views(d, ns.name), truth, "destinations vs ss", timeout=5)
    for key in truth:
        d = dest(doc, ns.name, *key)
        assert_eq((d.get("in_use"), d.get("capacity"), d.get("pressure")), (free, free, 1.0),
                  f"in_use, capacity, pressure of {key} (capacity lowered by every bind-held port)")


def test_bind_address_no_port_shares_ports_like_connect(ctx):
    """IP_BIND_ADDRESS_NO_PORT + bind(127.0.0.1, 0) + connect(): the port is chosen by connect()
    under the 4-tuple rule, so it counts in the destination's in_use, not in bind[]."""
    ns = ctx.netns()
    srv = ctx.workload(ns, comm="cpt-server")
    srv.listen(5000, addr="0.0.0.0")
    srv.listen(5001, addr="0.0.0.0")
    w = ctx.workload(ns, comm="cpt-noport")
    t = ctx.tool(ns)
    r1 = w.connect(LO, 5000, n=10, bind=[LO, 0], no_port=True)
    r2 = w.connect(LO, 5001, n=10, bind=[LO, 0], no_port=True)
    assert_eq((len(r1["conns"]), errs(r1), len(r2["conns"]), errs(r2)), (10, [], 10, []),
              "kernel: 10 + 10 bind-no-port connects succeed on a 10-port range")
    assert_eq(ports_of(r1, "conns"), ports_of(r2, "conns"),
              "kernel: both destinations use the same 10 ports (shared like connect())")
    m = t.mark()
    r3 = w.connect(LO, 5000, n=1, bind=[LO, 0], no_port=True)
    assert_eq(errs(r3), ["EADDRNOTAVAIL"], "kernel: the 11th to 127.0.0.1:5000 finds no port")
    truth = ss.truth(ns)
    assert_eq(sorted(v["in_use"] for v in truth.values()), [10, 10],
              "ss: 10 client sockets per destination (precondition)")
    doc = t.wait_value(lambda d: all_views(d, ns.name), truth,
                       "destinations vs ss (bind-no-port sockets counted like connect())")
    e = ns_entry(doc, ns.name)
    assert_eq((e.get("bind_held_in_range"), e.get("capacity"), bind_in_use(doc, ns.name)),
              (0, 10, {}), "bind_held_in_range, netns capacity, bind[] in_use (nothing held by bind)")
    for key in truth:
        d = dest(doc, ns.name, *key)
        assert_eq((d.get("capacity"), d.get("pressure")), (10, 1.0), f"capacity, pressure of {key}")
    doc = t.wait_for(lambda d: failure_rows(d, ns.name, error="EADDRNOTAVAIL"),
                     "an EADDRNOTAVAIL failure for the 11th connect", since=m)
    got = [failure_key(f) for f in failure_rows(doc, ns.name, error="EADDRNOTAVAIL")]
    assert_eq(got, [("tcp", LO, LO, 5000, "EADDRNOTAVAIL", w.pid, w.comm, 1)],
              "failure rows (proto, saddr, daddr, dport, error, pid, comm, total)")


def test_ip_local_port_range_destination_own_range(ctx):
    """Sockets with IP_LOCAL_PORT_RANGE: the destination reports that range and a capacity over it
    (intersected with the netns range, minus bind-held ports inside it)."""
    ns = ctx.netns()
    srv = ctx.workload(ns, comm="cpt-server")
    for port in (5000, 5001, 5002):
        srv.listen(port, addr="0.0.0.0")
    w = ctx.workload(ns, comm="cpt-portrange")
    b = w.bind_many(1, addr=LO, port=40003)
    b2 = w.bind_many(1, addr=LO, port=40008)
    assert_eq((errs(b), errs(b2)), ([], []), "kernel: explicit binds to 40003, 40008 (precondition)")
    t = ctx.tool(ns)
    ra = w.connect(LO, 5000, n=4, port_range=[40002, 40005])
    if ra["errors"] and ra["errors"][0]["error"] in ("ENOPROTOOPT", "EINVAL"):
        skip("IP_LOCAL_PORT_RANGE not supported by this kernel")
    assert_eq((sorted(ports_of(ra, "conns")), errs(ra)), ([40002, 40004, 40005], ["EADDRNOTAVAIL"]),
              "kernel: range 40002-40005 minus bound 40003 gives 3 ports, the 4th connect fails")
    rb = w.connect(LO, 5001, n=3, port_range=[40007, 40020])
    assert_eq((sorted(ports_of(rb, "conns")), errs(rb)), ([40007, 40009], ["EADDRNOTAVAIL"]),
              "kernel: range 40007-40020 within netns 40000-40009 minus bound 40008 gives 2 ports")
    rc = w.connect(LO, 5002, n=9)
    assert_eq((len(rc["conns"]), errs(rc)), (8, ["EADDRNOTAVAIL"]),
              "kernel: a plain socket gets the netns range minus 2 bound ports")
    doc = t.wait_value(lambda d: all_views(d, ns.name), ss.truth(ns, exclude_lports={40003, 40008}),
                       "destinations vs ss")
    da, db, dc = (dest(doc, ns.name, LO, LO, p) for p in (5000, 5001, 5002))
    assert_eq((da.get("port_range"), da.get("in_use"), da.get("capacity"), da.get("pressure")),
              ([40002, 40005], 3, 3, 1.0),
              "127.0.0.1:5000 with IP_LOCAL_PORT_RANGE 40002-40005: port_range, in_use, capacity, "
              "pressure")
    assert_true(db.get("port_range") in ([40007, 40020], [40007, 40009]),
                "127.0.0.1:5001 port_range = the socket's range (or its part inside the netns range)",
                repr(db.get("port_range")))
    assert_eq((db.get("in_use"), db.get("capacity"), db.get("pressure")), (2, 2, 1.0),
              "127.0.0.1:5001 in_use, capacity (40007-40009 minus bound 40008), pressure")
    assert_eq((dc.get("port_range", "missing"), dc.get("in_use"), dc.get("capacity")),
              (None, 8, 8), "plain destination 127.0.0.1:5002: port_range null, in_use, capacity")


def test_bind_rows_seeded_at_start(ctx):
    """Bound-only sockets and an in-range listener made before the start are in the first
    output's bind[] (INET_DIAG lists bound-only sockets; iter/tcp and ss do not)."""
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-bindseed")
    r1 = w.bind_many(3, addr=LO)
    r2 = w.bind_many(2, addr=LO2)
    lst = w.listen(0, addr="0.0.0.0")
    assert_eq((errs(r1), errs(r2)), ([], []), "kernel: the binds succeed (precondition)")
    wild = {lst["port"]}
    assert_true(wild <= set(RANGE), "kernel: listen(0.0.0.0:0) got a port in the range", str(wild))
    doc = ctx.once(ns)
    assert_eq(bind_in_use(doc, ns.name), {LO: 3, LO2: 2, "0.0.0.0": 1},
              "first output: bind[] in_use per local address")
    held = ports_of(r1) | ports_of(r2) | wild
    e = ns_entry(doc, ns.name)
    assert_eq((e.get("bind_held_in_range"), e.get("capacity")), (len(held), 10 - len(held)),
              "first output: bind_held_in_range, capacity")
    assert_eq(bind_row(doc, ns.name, LO).get("capacity"), 9,
              "bind[127.0.0.1].capacity = 10 - the wildcard listener's port")


def test_bound_only_sockets_from_before_start_released(ctx):
    """Bound-only sockets from before the start are known only from INET_DIAG dumps, which the
    checks repeat while they find some: closing them shows at a later check. Those bound after
    the start are followed live (the dumps stop once none is left from before)."""
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-bindgone")
    r = w.bind_many(3, addr=LO)
    assert_eq(errs(r), [], "kernel: 3 bind(0) succeed (precondition)")
    ids = [b["id"] for b in r["binds"]]
    t = ctx.tool(ns, args=["--correct-every", "1"])
    assert_eq(bind_in_use(t.all_docs()[0], ns.name), {LO: 3}, "first output: bind[] in_use")
    w.close(ids[:1])
    t.wait_value(lambda d: bind_in_use(d, ns.name), {LO: 2},
                 "bind[] in_use after closing one from before the start", timeout=12)
    w.close(ids[1:])
    t.wait_value(lambda d: bind_in_use(d, ns.name), {},
                 "bind[] in_use after closing all from before the start", timeout=12)
    r2 = w.bind_many(2, addr=LO2)
    assert_eq(errs(r2), [], "kernel: 2 more bind(0) succeed (precondition)")
    t.wait_value(lambda d: bind_in_use(d, ns.name), {LO2: 2}, "bind[] in_use of binds after start")
    w.close([b["id"] for b in r2["binds"]])
    t.wait_value(lambda d: bind_in_use(d, ns.name), {}, "bind[] in_use after closing those too")
