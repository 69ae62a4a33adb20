# SPDX-License-Identifier: GPL-2.0
# Filters on a namespace with mixed traffic (two processes; IPv4 and IPv6; TCP and UDP; TCP
# EADDRNOTAVAIL and UDP EAGAIN failures): -p PID, -4/-6, --tcp/--udp, -d ADDR[:PORT]. Each filtered
# instance (started before the traffic, syscall hooks armed) must show exactly the destinations and
# failures that match; capacity is not filtered.
from lib import ss
from lib.check import assert_eq, assert_true
from lib.tool import ns_entry, udp_of

LO = "127.0.0.1"
LO2 = "127.0.0.2"
V6 = "::1"

# (daddr, dport) -> (process, in_use)
DESTS = {(LO, 5000): ("a", 3), (V6, 5001): ("a", 2), (LO2, 5000): ("b", 10), (LO, 5001): ("b", 2)}
# (proto, daddr, dport, error, process); each failed once
FAILS = [("tcp", LO2, 5000, "EADDRNOTAVAIL", "b"), ("udp", LO, 6000, "EAGAIN", "a"),
         ("udp", V6, 6001, "EAGAIN", "b")]


def errs(r):
    return [e["error"] for e in r["errors"]]


def mixed(ctx, filters):
    """A namespace, server + processes a and b, one tool per filter (argument lists; "{a}"/"{b}"
    stand for the pids), then the traffic. Returns (ns, {"a": w, "b": w}, {filter label: tool})."""
    ns = ctx.netns()
    srv = ctx.workload(ns, comm="cpt-filt-srv")
    srv.listen(5000, addr="0.0.0.0")
    srv.listen(5001, addr="::", family="inet6", v6only=False)
    w = {"a": ctx.workload(ns, comm="cpt-filt-a"), "b": ctx.workload(ns, comm="cpt-filt-b")}
    tools = {}
    for f in filters:
        args = [x.format(a=w["a"].pid, b=w["b"].pid) for x in f]
        tools[" ".join(args)] = ctx.tool(ns, args=["--arm-syscalls"] + args)
    a, b = w["a"], w["b"]
    res = [a.connect(LO, 5000, n=3), a.connect(V6, 5001, n=2, family="inet6"),
           a.udp(LO, 6000, n=3),
           b.connect(LO2, 5000, n=11), b.connect(LO, 5001, n=2),
           b.udp(V6, 6001, n=7, family="inet6")]
    assert_eq([(len(r["conns"]), errs(r)) for r in res],
              [(3, []), (2, []), (3, []), (10, ["EADDRNOTAVAIL"]), (2, []), (7, [])],
              "kernel: mixed traffic (the 11th connect to 127.0.0.2:5000 finds no port)")
    fa, fb = a.udp(LO, 6000, n=1), b.udp(V6, 6001, n=1, family="inet6")
    assert_eq((errs(fa), errs(fb)), (["EAGAIN"], ["EAGAIN"]),
              "kernel: UDP range used up (10 ports): one more UDP connect each gets EAGAIN")
    truth = {(k[1], k[2]): v["in_use"] for k, v in ss.truth(ns).items()}
    assert_eq(truth, {k: n for k, (_, n) in DESTS.items()},
              "ss: client ports per destination (precondition)")
    assert_eq(ss.udp_truth(ns)["in_use"], 10, "ss -uan: 10 UDP ports (precondition)")
    return ns, w, tools


def shown(name):
    """Getter: (sorted (daddr, dport, in_use) of destinations, sorted (proto, daddr, dport, error,
    pid, total) of failures)."""
    def get(doc):
        e = ns_entry(doc, name) or {}
        dests = sorted((d.get("daddr"), d.get("dport"), d.get("in_use"))
                       for d in e.get("destinations", []) if d.get("in_use"))
        fails = sorted(tuple(f.get(k) for k in ("proto", "daddr", "dport", "error", "pid", "total"))
                       for f in e.get("failures", []))
        return dests, fails
    return get


def want(w, dest_ok, fail_ok):
    dests = sorted((da, dp, n) for (da, dp), (who, n) in DESTS.items() if dest_ok(da, dp, who))
    fails = sorted((proto, da, dp, err, w[who].pid, 1) for proto, da, dp, err, who in FAILS
                   if fail_ok(proto, da, dp, who))
    return dests, fails


def check(t, ns, label, expected):
    return t.wait_value(shown(ns.name), expected,
                        f"{label}: destinations (daddr, dport, in_use) and failures (proto, daddr, "
                        f"dport, error, pid, total) shown", timeout=6, stable=2)


def is_v6(addr):
    return ":" in addr


def test_filter_pid(ctx):
    ns, w, tools = mixed(ctx, [["-p", "{a}"], ["-p", "{b}"]])
    for who in ("a", "b"):
        label = f"-p {w[who].pid}"
        doc = check(tools[label], ns, label,
                    want(w, lambda da, dp, o: o == who, lambda p, da, dp, o: o == who))
        caps = {(d.get("daddr"), d.get("dport")): d.get("capacity")
                for d in ns_entry(doc, ns.name).get("destinations", [])}
        assert_eq(caps, {k: 10 for k in caps}, f"{label}: capacity unchanged by the filter")
        assert_eq(ns_entry(doc, ns.name).get("capacity"), 10, f"{label}: netns capacity")


def test_filter_family(ctx):
    ns, w, tools = mixed(ctx, [["-4"], ["-6"]])
    for label, v6 in (("-4", False), ("-6", True)):
        doc = check(tools[label], ns, label,
                    want(w, lambda da, dp, o: is_v6(da) == v6, lambda p, da, dp, o: is_v6(da) == v6))
        rows = ((udp_of(doc, ns.name) or {}).get("by_addr") or []) + \
            (ns_entry(doc, ns.name).get("bind") or [])
        bad = [r.get("addr") for r in rows if is_v6(r.get("addr", "")) != v6]
        assert_eq(bad, [], f"{label}: udp.by_addr / bind[] addresses of the other family")


def test_filter_protocol(ctx):
    ns, w, tools = mixed(ctx, [["--tcp"], ["--udp"]])
    doc = check(tools["--tcp"], ns, "--tcp",
                want(w, lambda da, dp, o: True, lambda p, da, dp, o: p == "tcp"))
    u = udp_of(doc, ns.name)
    assert_true(u is None or not u.get("by_addr"), "--tcp: udp rows hidden", repr(u))
    doc = check(tools["--udp"], ns, "--udp",
                want(w, lambda da, dp, o: False, lambda p, da, dp, o: p == "udp"))
    u = udp_of(doc, ns.name) or {}
    assert_eq((u.get("in_use"), u.get("capacity")), (10, 10), "--udp: udp in_use, capacity")


def test_filter_destination(ctx):
    specs = {
        "127.0.0.2:5000": (lambda da, dp: (da, dp) == (LO2, 5000)),
        ":5001": (lambda da, dp: dp == 5001),
        "[::1]:6001": (lambda da, dp: (da, dp) == (V6, 6001)),
        "127.0.0.1": (lambda da, dp: da == LO),
    }
    ns, w, tools = mixed(ctx, [["-d", s] for s in specs])
    for spec, match in specs.items():
        label = f"-d {spec}"
        check(tools[label], ns, label,
              want(w, lambda da, dp, o: match(da, dp), lambda p, da, dp, o: match(da, dp)))
