# SPDX-License-Identifier: GPL-2.0
# The JSON document: shape and types, limits vs /proc/sys inside the namespace, identity (cookie,
# inum, name), interval, and -n selection by name, path, pid, and all.
import os
import statistics
import time

from lib import procs
from lib.check import assert_close, assert_eq, assert_true
from lib.procs import wait_until
from lib.tool import ns_entry

LO = "127.0.0.1"


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_types(doc):
    """Every field of the contract is present with the right type."""
    assert_eq(doc.get("schema"), 1, "schema")
    assert_true(is_num(doc.get("ts")) and abs(doc["ts"] - time.time()) < 60,
                "ts is the current unix time", repr(doc.get("ts")))
    assert_true(is_num(doc.get("interval_seconds")), "interval_seconds is a number")
    lost = doc.get("lost")
    assert_true(isinstance(lost, dict) and all(is_int(lost.get(k)) for k in
                                               ("recursion_misses", "map_full", "ringbuf_drops")),
                "lost has integer recursion_misses, map_full, ringbuf_drops", repr(lost))
    assert_true(isinstance(doc.get("netns"), list), "netns is an array")
    for e in doc["netns"]:
        for k in ("cookie", "inum", "capacity", "bind_held_in_range"):
            assert_true(is_int(e.get(k)), f"netns.{k} is an integer", repr(e.get(k)))
        assert_true(e.get("name") is None or isinstance(e.get("name"), str), "netns.name str/null")
        lim = e.get("limits") or {}
        pr = lim.get("port_range")
        assert_true(isinstance(pr, list) and len(pr) == 2 and all(map(is_int, pr)),
                    "limits.port_range is [lo, hi]", repr(pr))
        for k in ("reserved_in_range", "tw_reuse", "max_tw_buckets"):
            assert_true(is_int(lim.get(k)), f"limits.{k} is an integer", repr(lim.get(k)))
        assert_true(isinstance(e.get("destinations"), list), "destinations is an array")
        assert_true(isinstance(e.get("failures"), list), "failures is an array")
        for d in e["destinations"]:
            assert_eq(d.get("proto"), "tcp", "destination proto")
            for k in ("dport", "in_use", "capacity"):
                assert_true(is_int(d.get(k)), f"destination.{k} is an integer", repr(d))
            for k in ("pressure", "new_per_second"):
                assert_true(is_num(d.get(k)), f"destination.{k} is a number", repr(d))
            st = d.get("states") or {}
            assert_eq(sorted(st), ["established", "other", "syn_sent", "time_wait"],
                      "destination.states keys")
            assert_eq(sum(st.values()), d["in_use"], "sum of states = in_use")
            th = d.get("top_holder", "missing")
            assert_true(th is None or (isinstance(th, dict) and is_int(th.get("pid"))
                                       and isinstance(th.get("comm"), str) and is_int(th.get("count"))),
                        "top_holder is null or {pid, comm, count}", repr(th))
        for f in e["failures"]:
            for k in ("dport", "count", "total", "pid"):
                assert_true(is_int(f.get(k)), f"failure.{k} is an integer", repr(f))
            assert_true(isinstance(f.get("comm"), str) and isinstance(f.get("error"), str),
                        "failure comm/error are strings", repr(f))


def test_once_document_shape_and_limits(ctx):
    ns = ctx.netns(sysctls={"net.ipv4.tcp_tw_reuse": "1", "net.ipv4.tcp_max_tw_buckets": "1234",
                            "net.ipv4.ip_local_reserved_ports": "40009"})
    w = ctx.workload(ns, comm="cpt-shape")
    w.listen(5000)
    w.connect(LO, 5000, n=2)
    doc = ctx.once(ns)
    check_types(doc)
    e = ns_entry(doc, ns.name)
    assert_true(e is not None, f"entry named {ns.name}", repr(doc)[:300])
    assert_eq(e.get("inum"), ns.inum(), "inum = inode of /run/netns/NAME")
    assert_eq(e.get("cookie"), w.netns_cookie, "cookie = SO_NETNS_COOKIE inside the namespace")
    want = {"port_range": [int(x) for x in ns.sysctl("net.ipv4.ip_local_port_range").split()],
            "reserved_in_range": 1,
            "tw_reuse": int(ns.sysctl("net.ipv4.tcp_tw_reuse")),
            "max_tw_buckets": int(ns.sysctl("net.ipv4.tcp_max_tw_buckets"))}
    got = {k: (e.get("limits") or {}).get(k) for k in want}
    assert_eq(got, want, "limits vs sysctl inside the namespace")
    assert_eq(e.get("capacity"), 9, "netns capacity = 10 - 1 reserved")


def test_streaming_interval(ctx):
    ns = ctx.netns()
    t = ctx.tool(ns, interval=0.2)
    t.wait_doc(10, 6)
    docs = t.all_docs()
    gaps = [b["ts"] - a["ts"] for a, b in zip(docs, docs[1:])]
    assert_true(0.15 <= statistics.median(gaps) <= 0.3, "ts advances by about 0.2 s per document",
                repr(gaps))
    # Reading: interval_seconds is the time the document's counts cover (README: 0 in the first
    # document), i.e. the ts gap to the previous document; snapshots are about -i apart, never
    # back to back (a rate over a 1 ms interval is noise).
    ivals = [d.get("interval_seconds") for d in docs[1:]]
    assert_true(all(is_num(v) and abs(v - g) < 0.03 for v, g in zip(ivals, gaps)),
                "interval_seconds = time since the previous document",
                f"interval_seconds {ivals}, ts gaps {[round(g, 3) for g in gaps]}")
    assert_true(min(gaps) >= 0.1, "no two documents closer than half the interval (-i 0.2)",
                f"ts gaps {[round(g, 3) for g in gaps]}")
    for d in docs:
        check_types(d)


def test_netns_selection(ctx):
    ns = ctx.netns()
    other = ctx.netns()
    w = ctx.workload(ns, comm="cpt-sel")
    doc = ctx.once()                                     # default: all
    names = [e.get("name") for e in doc.get("netns", [])]
    assert_true(ns.name in names and other.name in names, "-n all (default) lists both test "
                "namespaces", repr(names))
    for sel, what in ((ns.name, "name"), (ns.path, "path"), (str(w.pid), "pid")):
        doc = ctx.once(args=["-n", sel])
        got = [(e.get("inum"), e.get("name")) for e in doc.get("netns", [])]
        assert_eq(got, [(ns.inum(), ns.name)], f"-n {what} selects exactly that namespace")


def test_unnamed_netns_has_null_name(ctx):
    p = procs.spawn(["unshare", "-n", "sleep", "60"], what="unshare sleep")
    ctx.defer(procs.stop, p)
    inum = wait_until(lambda: os.stat(f"/proc/{p.pid}/ns/net").st_ino
                      if os.readlink(f"/proc/{p.pid}/exe").endswith("sleep") else None, 3)
    assert_true(inum and inum != os.stat("/proc/self/ns/net").st_ino,
                "unshare -n made a new namespace (precondition)")
    doc = ctx.once(args=["-n", str(p.pid)])
    got = [(e.get("inum"), e.get("name")) for e in doc.get("netns", [])]
    assert_eq(got, [(inum, None)], "-n PID of an unnamed namespace: one entry, name null")
    doc = ctx.once()
    e = [x for x in doc.get("netns", []) if x.get("inum") == inum]
    assert_eq([x.get("name") for x in e], [None], "-n all lists the unnamed namespace, name null")
    e = e[0]
    assert_eq((e.get("limits") or {}).get("port_range"), [32768, 60999],
              "a new namespace starts at the default port range")
    assert_close(e.get("capacity"), 28232, "default capacity 60999-32768+1", tol=0)


def test_netns_created_while_running_appears(ctx):
    """-n all (default): a namespace created after the start is picked up."""
    t = ctx.tool(interval=0.5)
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-late")
    w.listen(5000)
    w.connect(LO, 5000, n=2)

    def in_use(doc):
        for d in (ns_entry(doc, ns.name) or {}).get("destinations", []):
            if (d.get("saddr"), d.get("daddr"), d.get("dport")) == (LO, LO, 5000):
                return d.get("in_use")
        return None
    t.wait_value(in_use, 2, f"in_use in netns {ns.name} created after the start", timeout=5)
