# SPDX-License-Identifier: GPL-2.0
# connect() failures for want of a port (EADDRNOTAVAIL): reported with the caller's pid and comm,
# the destination, and per-interval count / since-start total that match what the workload saw.
from lib.check import assert_eq, assert_true
from lib.tool import dest_field, failures

LO = "127.0.0.1"


def failure_total(name, pid, daddr=LO, dport=5000):
    def get(doc):
        f = failures(doc, name, daddr, dport, pid)
        return sum(x.get("total", 0) for x in f) if f else None
    return get


def count_sum(docs, name, pid, daddr=LO, dport=5000):
    return sum(x.get("count", 0) for d in docs for x in failures(d, name, daddr, dport, pid))


def check_failure_entry(doc, ns, w, total, what):
    f = failures(doc, ns.name, LO, 5000, w.pid)
    assert_eq(len(f), 1, f"{what}: one failure entry for (destination, pid {w.pid})")
    f = f[0]
    got = {k: f.get(k) for k in ("proto", "saddr", "daddr", "dport", "error", "pid", "comm", "total")}
    assert_eq(got, {"proto": "tcp", "saddr": LO, "daddr": LO, "dport": 5000, "error": "EADDRNOTAVAIL",
                    "pid": w.pid, "comm": w.comm, "total": total}, f"{what}: failure entry")


def exhaust_then_fail(ctx, nonblock):
    ns = ctx.netns()
    srv = ctx.workload(ns, comm="cpt-server")
    srv.listen(5000)
    cli = ctx.workload(ns, comm="cpt-nb-client" if nonblock else "cpt-client")
    t = ctx.tool(ns)
    m = t.mark()
    r = cli.connect(LO, 5000, n=11, nonblock=nonblock)
    assert_eq((len(r["conns"]), [e["error"] for e in r["errors"]]), (10, ["EADDRNOTAVAIL"]),
              "workload: 10 connects succeed, the 11th gets EADDRNOTAVAIL")
    doc = t.wait_value(failure_total(ns.name, cli.pid), 1, "failure total after the 11th connect",
                       since=m)
    check_failure_entry(doc, ns, cli, 1, "after 1 failure")
    m = t.mark()
    r = cli.connect(LO, 5000, n=2, nonblock=nonblock)
    assert_eq([e["error"] for e in r["errors"]], ["EADDRNOTAVAIL"] * 2,
              "workload: 2 more connects refused")
    doc = t.wait_value(failure_total(ns.name, cli.pid), 3, "failure total after 3 failures",
                       since=m)
    check_failure_entry(doc, ns, cli, 3, "after 3 failures")
    assert_eq(count_sum(t.all_docs(), ns.name, cli.pid), 3,
              "sum of per-interval failure counts over all documents = failures the workload saw")
    assert_eq(dest_field(ns.name, LO, LO, 5000, "in_use")(doc), 10,
              "in_use stays 10 (failed connects hold no port)")
    blamed = {f.get("pid") for e in doc.get("netns", []) for f in e.get("failures", [])}
    assert_eq(blamed, {cli.pid}, "only the connecting process is blamed (not the server)")


def test_blocking_connect_failure_reported(ctx):
    exhaust_then_fail(ctx, nonblock=False)


def test_nonblocking_connect_failure_reported(ctx):
    exhaust_then_fail(ctx, nonblock=True)


def test_failures_attributed_per_process(ctx):
    """Two processes fail on the same destination: each is reported with its own pid, comm and
    total (reading: one failures[] entry per destination and process)."""
    ns = ctx.netns()
    srv = ctx.workload(ns, comm="cpt-server")
    srv.listen(5000)
    a = ctx.workload(ns, comm="cpt-fail-a")
    b = ctx.workload(ns, comm="cpt-fail-b")
    t = ctx.tool(ns)
    r = srv.connect(LO, 5000, n=10)
    assert_eq(len(r["conns"]), 10, "workload: range filled by the server process")
    m = t.mark()
    ra = a.connect(LO, 5000, n=2)
    rb = b.connect(LO, 5000, n=1, nonblock=True)
    assert_eq((len(ra["errors"]), len(rb["errors"])), (2, 1), "workload: failures seen by a and b")
    doc = t.wait_for(lambda d: failure_total(ns.name, a.pid)(d) == 2
                     and failure_total(ns.name, b.pid)(d) == 1,
                     "failures: total 2 for process a and 1 for process b", timeout=5, since=m)
    check_failure_entry(doc, ns, a, 2, "process a")
    check_failure_entry(doc, ns, b, 1, "process b")
    assert_true(not failures(doc, ns.name, pid=srv.pid), "no failure blamed on the server process")


def test_refused_connect_is_not_a_port_failure(ctx):
    """ECONNREFUSED (nobody listening) got a port: it is not reported as a failure, and the port
    is released again."""
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-refused")
    t = ctx.tool(ns)
    m = t.mark()
    r = w.connect(LO, 5999, n=3)
    assert_eq([e["error"] for e in r["errors"]], ["ECONNREFUSED"] * 3,
              "workload: connects to a closed port are refused (precondition)")
    w.listen(5000)
    w.connect(LO, 5000, n=1)
    t.wait_value(dest_field(ns.name, LO, LO, 5000, "in_use"), 1, "in_use of a later destination",
                 since=m)
    docs = t.all_docs()[m:]
    bad = [f for d in docs for f in failures(d, ns.name)]
    assert_eq(bad, [], "no failure reported for ECONNREFUSED")
    assert_eq(dest_field(ns.name, LO, LO, 5999, "in_use")(docs[-1]) or 0, 0,
              "refused connects hold no port")
