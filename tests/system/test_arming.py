# SPDX-License-Identifier: GPL-2.0
# The syscall hooks (UDP EAGAIN, bind(0) EADDRINUSE) are armed on demand: by default when a bind or
# UDP pressure reaches --arm-threshold (0.8), held for 30 s after it falls; never with --no-auto-arm.
# hooks.syscalls says whether they are armed and why.
import time

from lib.check import assert_eq, assert_true
from lib.tool import armed, bind_in_use, failure_rows, udp_of

LO = "127.0.0.1"


def errs(r):
    return [e["error"] for e in r["errors"]]


def udp_in_use(name):
    return lambda d: (udp_of(d, name) or {}).get("in_use")


def check_armed_over(t, expected, seconds, what):
    """Every document over the next `seconds` has hooks.syscalls (armed, reason) == expected."""
    m = t.mark()
    time.sleep(seconds)
    docs = t.all_docs()[m:]
    assert_true(len(docs) >= 2, f"{what}: documents keep coming", f"got {len(docs)}")
    bad = [armed(d) for d in docs if armed(d) != expected]
    assert_eq(bad, [], f"{what}: hooks.syscalls (armed, reason) other than {expected} in "
              f"{len(docs)} documents")


def test_auto_arm_on_bind_pressure(ctx):
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-autoarm")
    t = ctx.tool(ns)
    first = t.all_docs()[0]
    assert_eq(((first.get("hooks") or {}).get("syscalls") or {}).get("available"), True,
              "hooks.syscalls.available")
    assert_eq(armed(first), (False, None), "hooks.syscalls (armed, reason) at start (auto, idle)")
    r = w.bind_many(7, addr=LO)
    assert_eq((len(r["binds"]), errs(r)), (7, []), "kernel: 7 bind(0) succeed")
    t.wait_value(lambda d: bind_in_use(d, ns.name), {LO: 7}, "bind[127.0.0.1].in_use = 7")
    check_armed_over(t, (False, None), 0.6, "bind pressure 0.7, below the 0.8 threshold")
    r2 = w.bind_many(1, addr=LO)
    assert_eq(errs(r2), [], "kernel: the 8th bind(0) succeeds")
    t.wait_value(armed, (True, "pressure"),
                 "hooks.syscalls (armed, reason) once bind pressure reaches 0.8", timeout=5)
    m = t.mark()
    r3 = w.bind_many(3, addr=LO)
    assert_eq((len(r3["binds"]), errs(r3)), (2, ["EADDRINUSE"]),
              "kernel: 2 more bind(0) succeed, the 11th EADDRINUSE")
    t.wait_value(lambda d: [(f.get("saddr"), f.get("pid"), f.get("total"))
                            for f in failure_rows(d, ns.name, error="EADDRINUSE")],
                 [(LO, w.pid, 1)], "EADDRINUSE failure (saddr, pid, total) seen while auto-armed",
                 since=m)
    w.close([b["id"] for b in r["binds"] + r2["binds"] + r3["binds"]])
    t.wait_value(lambda d: bind_in_use(d, ns.name), {}, "bind[] in_use after closing every bind")
    check_armed_over(t, (True, "pressure"), 1.5,
                     "pressure fell: the hooks stay armed (30 s hold)")


def test_auto_arm_on_udp_pressure(ctx):
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-autoarm-udp")
    t = ctx.tool(ns)
    assert_eq(armed(t.all_docs()[0]), (False, None), "hooks.syscalls (armed, reason) at start")
    r = w.udp(LO, 6000, n=8)
    assert_eq((len(r["conns"]), errs(r)), (8, []), "kernel: 8 UDP connect() get a port")
    t.wait_value(armed, (True, "pressure"),
                 "hooks.syscalls (armed, reason) once udp pressure reaches 0.8", timeout=5)
    assert_eq(udp_in_use(ns.name)(t.all_docs()[-1]), 8, "udp.in_use when armed")


def test_no_auto_arm_never_arms(ctx):
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-noarm")
    t = ctx.tool(ns, args=["--no-auto-arm"])
    assert_eq(armed(t.all_docs()[0]), (False, None), "hooks.syscalls (armed, reason) at start")
    m = t.mark()
    r = w.udp(LO, 6000, n=11)
    assert_eq((len(r["conns"]), errs(r)), (10, ["EAGAIN"]), "kernel: UDP range used up")
    r = w.bind_many(11, addr=LO)
    assert_eq((len(r["binds"]), errs(r)), (10, ["EADDRINUSE"]), "kernel: bind(0) range used up")
    t.wait_value(udp_in_use(ns.name), 10, "udp.in_use = 10 (pressure 1.0)", since=m)
    t.wait_value(lambda d: bind_in_use(d, ns.name), {LO: 10}, "bind[127.0.0.1].in_use = 10",
                 since=m)
    check_armed_over(t, (False, None), 1.0, "--no-auto-arm with pressure 1.0")
    rows = [f for d in t.all_docs()[m:] for f in failure_rows(d, ns.name)
            if f.get("error") in ("EAGAIN", "EADDRINUSE")]
    assert_eq(rows, [], "no EAGAIN/EADDRINUSE failures reported while the hooks are disarmed")
