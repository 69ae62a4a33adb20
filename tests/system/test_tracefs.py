# SPDX-License-Identifier: GPL-2.0
# The syscall hooks are classic tracepoints, whose event ids only tracefs shows. Hosts without
# systemd often have no tracefs mounted: connpressure then reads the ids from a tracefs mounted in a
# private mount namespace and leaves nothing mounted. Each test runs the tool in a mount namespace
# of its own where tracefs is (or is not) mounted, whatever the host has, and checks that the hooks
# arm and report a real UDP EAGAIN.
from lib.check import assert_eq
from lib.tool import armed, failure_rows

LO = "127.0.0.1"
TRACEFS_MOUNTS = ("/sys/kernel/debug/tracing", "/sys/kernel/tracing")


def tracefs_mounts():
    """Mount points of tracefs in this (the host's) mount namespace."""
    with open("/proc/self/mountinfo") as f:
        return sorted(l.split()[4] for l in f if l.split(" - ")[1].split()[0] == "tracefs")


def private_mounts(script):
    """A prefix that runs `script` in a private mount namespace, then execs the tool."""
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            script + ' && exec "$@"', "sh"]


UNMOUNT_ALL = " && ".join(f"{{ ! mountpoint -q {m} || umount -l {m}; }}" for m in TRACEFS_MOUNTS)
MOUNT_ONE = (UNMOUNT_ALL + " && mount -t tracefs tracefs /sys/kernel/tracing")


def check_arms_and_reports(ctx, prefix, what):
    before = tracefs_mounts()
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-tracefs")
    t = ctx.tool(ns, args=["--arm-syscalls"], prefix=prefix)
    first = t.all_docs()[0]
    assert_eq((((first.get("hooks") or {}).get("syscalls") or {}).get("available"), armed(first)),
              (True, (True, "flag")), f"{what}: hooks.syscalls (available, (armed, reason))")
    m = t.mark()
    r = w.udp(LO, 6000, n=11, mode="connect")
    assert_eq(([e["error"] for e in r["errors"]]), ["EAGAIN"],
              f"{what}: kernel: 10 UDP connect() get a port, the 11th EAGAIN")
    t.wait_value(lambda d: [(f.get("dport"), f.get("pid"), f.get("total"))
                            for f in failure_rows(d, ns.name, error="EAGAIN")],
                 [(6000, w.pid, 1)], f"{what}: EAGAIN failure (dport, pid, total)", since=m)
    assert_eq(t.stderr, [], f"{what}: connpressure's stderr")
    assert_eq(tracefs_mounts(), before, f"{what}: the host's tracefs mounts, unchanged")


def test_syscall_hooks_arm_without_tracefs(ctx):
    check_arms_and_reports(ctx, private_mounts(UNMOUNT_ALL), "no tracefs mounted")


def test_syscall_hooks_arm_with_tracefs(ctx):
    check_arms_and_reports(ctx, private_mounts(MOUNT_ONE), "tracefs at /sys/kernel/tracing")
