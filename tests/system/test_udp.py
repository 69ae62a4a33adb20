# SPDX-License-Identifier: GPL-2.0
# UDP ports: udp {in_use, capacity, pressure, by_addr[]} per netns against `ss -uan` (distinct local
# ports in the range, not reserved, per local address), and UDP connect()/sendto() running out of
# ports (EAGAIN) attributed to the caller while the syscall hooks are armed.
from lib import ss
from lib.check import assert_close, assert_eq, assert_true
from lib.tool import failure_rows, ns_entry, udp_of, udp_view

LO = "127.0.0.1"
LO2 = "127.0.0.2"
PRESSURE_TOL = 5e-5


def errs(r):
    return [e["error"] for e in r["errors"]]


def eagain_rows(name):
    """Getter: sorted (proto, daddr, dport, error, pid, comm, total) of EAGAIN rows (the source
    address of an unbound socket is not part of the contract)."""
    def get(doc):
        return sorted(tuple(f.get(k) for k in ("proto", "daddr", "dport", "error", "pid", "comm",
                                                "total"))
                      for f in failure_rows(doc, name, error="EAGAIN"))
    return get


def check_udp_totals(doc, ns, in_use, capacity, what):
    u = udp_of(doc, ns.name) or {}
    assert_eq((u.get("in_use"), u.get("capacity")), (in_use, capacity),
              f"{what}: udp in_use, capacity")
    assert_close(u.get("pressure"), in_use / capacity if capacity else 1.0,
                 f"{what}: udp pressure = {in_use}/{capacity}", tol=PRESSURE_TOL)
    for r in u.get("by_addr") or []:
        assert_true(all(k in r for k in ("addr", "in_use", "capacity", "pressure")),
                    f"{what}: udp.by_addr row has addr, in_use, capacity, pressure", repr(r))


def exhaust_udp(ctx, mode, comm, dport):
    ns = ctx.netns()
    w = ctx.workload(ns, comm=comm)
    t = ctx.tool(ns, args=["--arm-syscalls"])
    m = t.mark()
    r = w.udp(LO, dport, n=11, mode=mode)
    assert_eq((len(r["conns"]), errs(r)), (10, ["EAGAIN"]),
              f"kernel: 10 UDP {mode}() on unbound sockets get a port, the 11th EAGAIN")
    truth = ss.udp_truth(ns)
    assert_eq(truth["in_use"], 10, "ss -uan: 10 UDP ports of the range held (precondition)")
    doc = t.wait_value(lambda d: udp_view(d, ns.name), truth,
                       "udp in_use and by_addr in_use vs ss -uan", since=m)
    check_udp_totals(doc, ns, 10, 10, f"after 10 UDP {mode}()")
    e = ns_entry(doc, ns.name)
    assert_eq(e.get("capacity"), 10, "TCP netns capacity is not lowered by UDP ports")
    want = [("udp", LO, dport, "EAGAIN", w.pid, w.comm, 1)]
    doc = t.wait_value(eagain_rows(ns.name), want,
                       f"UDP {mode}() EAGAIN failure (proto, daddr, dport, error, pid, comm, total)",
                       since=m)
    m = t.mark()
    r = w.udp(LO, dport, n=2, mode=mode)
    assert_eq(errs(r), ["EAGAIN"] * 2, f"kernel: 2 more UDP {mode}() get EAGAIN")
    want = [("udp", LO, dport, "EAGAIN", w.pid, w.comm, 3)]
    t.wait_value(eagain_rows(ns.name), want, "EAGAIN failure total after 3 failures", since=m)
    counts = sum(f.get("count", 0) for d in t.all_docs()
                 for f in failure_rows(d, ns.name, error="EAGAIN"))
    assert_eq(counts, 3, "sum of per-interval EAGAIN counts = failures the workload saw")


def test_udp_connect_exhaustion_eagain_attributed(ctx):
    exhaust_udp(ctx, "connect", "cpt-udp-conn", 6000)


def test_udp_sendto_exhaustion_eagain_attributed(ctx):
    exhaust_udp(ctx, "sendto", "cpt-udp-send", 6001)


def test_udp_counts_match_ss(ctx):
    """Reserved and out-of-range ports are not counted; a port is counted once however many
    sockets share it; TCP bind() ports are not UDP's. Sockets from before the start are seeded."""
    ns = ctx.netns(sysctls={"net.ipv4.ip_local_reserved_ports": "40009"})
    w = ctx.workload(ns, comm="cpt-udp-mix")
    before = [
        w.bind_many(1, addr=LO, port=40009, proto="udp"),       # reserved: not counted
        w.bind_many(1, addr=LO, port=6000, proto="udp"),        # outside the range
        w.bind_many(1, addr=LO2, port=40002, proto="udp"),      # explicit, in the range
        w.bind_many(2, addr=LO2, proto="udp"),                  # bind(0)
        w.udp(LO, 7000, n=2),                                   # connect() autobind
    ]
    tcp = w.bind_many(2, addr=LO)                               # TCP: not UDP's
    assert_eq([errs(r) for r in before + [tcp]], [[]] * 6, "kernel: every bind/connect succeeds")
    truth = ss.udp_truth(ns)
    assert_true(truth["in_use"] >= 3, "ss -uan: some UDP ports in the range (precondition)",
                repr(truth))
    ctx.log(f"ss -uan truth before the start: {truth}")
    t = ctx.tool(ns)
    doc = t.all_docs()[0]
    assert_eq(udp_view(doc, ns.name), truth, "first document (seeded): udp vs ss -uan")
    check_udp_totals(doc, ns, truth["in_use"], 9, "seeded (range 10, 40009 reserved)")

    after = [w.udp("::1", 7001, n=2, mode="sendto", family="inet6"),   # v6 dual-stack autobind
             w.udp("::1", 7002, n=1, family="inet6"),
             w.bind_many(1, addr=LO, port=before[2]["binds"][0]["port"], proto="udp")]
    assert_eq([errs(r) for r in after], [[]] * 3, "kernel: more UDP sockets after the start")
    truth = ss.udp_truth(ns)
    ctx.log(f"ss -uan truth after more sockets: {truth}")
    doc = t.wait_value(lambda d: udp_view(d, ns.name), truth,
                       "udp in_use and by_addr vs ss -uan after more sockets")
    check_udp_totals(doc, ns, truth["in_use"], 9, "after more sockets")

    w.close([c["id"] for c in before[4]["conns"]] + [b["id"] for b in before[3]["binds"]])
    truth = ss.udp_truth(ns)
    doc = t.wait_value(lambda d: udp_view(d, ns.name), truth,
                       "udp in_use and by_addr vs ss -uan after closing some")
    check_udp_totals(doc, ns, truth["in_use"], 9, "after closing some")


def own_ranges(name):
    """Getter: sorted (addr, port_range, sockets, in_use, capacity) of udp.own_ranges."""
    def get(doc):
        u = udp_of(doc, name) or {}
        return sorted((r.get("addr"), tuple(r.get("port_range") or ()), r.get("sockets"),
                       r.get("in_use"), r.get("capacity")) for r in u.get("own_ranges") or [])
    return get


def test_udp_own_range_counted_against_it(ctx):
    """UDP sockets with IP_LOCAL_PORT_RANGE 40002-40005 (4 ports): 3 of them hold 3 ports there,
    an ordinary UDP socket that got a port there counts too; the 5th ranged connect() gets
    EAGAIN although the netns range has room."""
    ns = ctx.netns()            # 40000-40009
    w = ctx.workload(ns, comm="cpt-udprange")
    t = ctx.tool(ns)
    m = t.mark()
    r = w.udp(LO, 9, n=3, port_range=[40002, 40005])
    assert_eq((len(r["conns"]), errs(r)), (3, []), "kernel: 3 ranged UDP connect() get a port")
    assert_true(all(40002 <= c["sport"] <= 40005 for c in r["conns"]),
                "kernel: their ports lie in 40002-40005 (precondition)", repr(r["conns"]))
    in_own = ss.udp_truth(ns, port_range=(40002, 40005))["by_addr"].get(LO)
    assert_eq(in_own, 3, "ss -uan: 3 UDP ports held in 40002-40005 (precondition)")
    t.wait_value(own_ranges(ns.name), [(LO, (40002, 40005), 3, in_own, 4)],
                 "udp.own_ranges (addr, port_range, sockets, in_use, capacity)", since=m)
    # Fill the rest of the netns range with ordinary sockets: one lands in 40002-40005.
    m = t.mark()
    r2 = w.udp(LO, 9, n=7)
    assert_eq((len(r2["conns"]), errs(r2)), (7, []), "kernel: 7 more UDP connect() get a port")
    in_own = ss.udp_truth(ns, port_range=(40002, 40005))["by_addr"].get(LO)
    assert_eq(in_own, 4, "ss -uan: all 4 ports of 40002-40005 held now (precondition)")
    t.wait_value(own_ranges(ns.name), [(LO, (40002, 40005), 3, in_own, 4)],
                 "udp.own_ranges after an ordinary socket took the 4th port there", since=m)
    r3 = w.udp(LO, 9, n=1, port_range=[40002, 40005])
    assert_eq(errs(r3), ["EAGAIN"], "kernel: a 4th ranged connect() finds no port (EAGAIN)")
