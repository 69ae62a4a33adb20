# SPDX-License-Identifier: GPL-2.0
# Limits re-read every interval: the ephemeral range (and reserved ports) changed with sysctl inside
# the namespace while connpressure runs show in limits and every capacity within one interval.
import time

from lib.check import assert_eq, assert_true
from lib.ss import parse_port_set
from lib.tool import bind_row, dest, ns_entry, udp_of

LO = "127.0.0.1"
INTERVAL = 0.5


def expected(ns, bound):
    """What the kernel says now: range, reserved in range, TCP capacity (minus bind-held ports),
    UDP capacity."""
    lo, hi = (int(x) for x in ns.sysctl("net.ipv4.ip_local_port_range").split())
    reserved = {p for p in parse_port_set(ns.sysctl("net.ipv4.ip_local_reserved_ports"))
                if lo <= p <= hi}
    span = hi - lo + 1
    held = {p for p in bound if lo <= p <= hi and p not in reserved}
    return {"port_range": [lo, hi], "reserved_in_range": len(reserved),
            "capacity": span - len(reserved) - len(held), "bind_held_in_range": len(held),
            "udp_capacity": span - len(reserved)}


def observed(doc, name):
    e = ns_entry(doc, name) or {}
    lim = e.get("limits") or {}
    d = dest(doc, name, LO, LO, 5000) or {}
    return {"port_range": lim.get("port_range"), "reserved_in_range": lim.get("reserved_in_range"),
            "capacity": e.get("capacity"), "bind_held_in_range": e.get("bind_held_in_range"),
            "udp_capacity": (udp_of(doc, name) or {}).get("capacity"),
            "dest_capacity": d.get("capacity")}


def change_and_check(ctx, t, ns, bound, key, value, what):
    ns.sysctl_set(key, value)
    changed = time.monotonic()
    want = expected(ns, bound)
    want["dest_capacity"] = want["capacity"]
    ctx.log(f"{what}: {key}={value!r} -> expect {want}")
    m = t.mark()
    # Document m may have been collected before the change; m + 1 was collected after it.
    doc = t.wait_doc(m + 1, timeout=10 * INTERVAL)
    assert_eq(observed(doc, ns.name), want,
              f"{what}: limits and capacities in the second document after the change")
    late = doc["_arrival"] - changed
    assert_true(late <= 2 * INTERVAL + 0.5,
                f"{what}: shown within one interval ({INTERVAL}s) of the change",
                f"second document arrived {late:.2f}s after the change")
    t.wait_value(lambda d: observed(d, ns.name), want, f"{what}: stays", stable=2)
    return want


def test_range_change_followed_within_one_interval(ctx):
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-range")
    w.listen(5000)
    assert_eq(len(w.connect(LO, 5000, n=4)["conns"]), 4, "workload: 4 connections")
    b = w.bind_many(1, addr=LO)
    assert_eq(len(b["binds"]), 1, "workload: one TCP bind(0)")
    bound = {b["binds"][0]["port"]}
    assert_eq(len(w.udp(LO, 6000, n=1)["conns"]), 1, "workload: one UDP socket")
    t = ctx.tool(ns, interval=INTERVAL)
    want = expected(ns, bound)
    want["dest_capacity"] = want["capacity"]
    assert_eq(observed(t.all_docs()[0], ns.name), want, "first document: limits and capacities")

    change_and_check(ctx, t, ns, bound, "net.ipv4.ip_local_port_range", "40000 40019",
                     "range widened to 40000-40019")
    bind = bind_row(t.all_docs()[-1], ns.name, LO) or {}
    assert_eq(bind.get("capacity"), 20, "bind[127.0.0.1].capacity follows the widened range")
    r = w.connect(LO, 5000, n=20)
    assert_eq(len(r["conns"]), 15, "kernel: 15 more connects fit (19 - 4 already used)")
    change_and_check(ctx, t, ns, bound, "net.ipv4.ip_local_reserved_ports", "40001,40015",
                     "two reserved ports added")
    change_and_check(ctx, t, ns, bound, "net.ipv4.ip_local_port_range", "40000 40004",
                     "range narrowed to 40000-40004")
