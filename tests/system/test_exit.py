# SPDX-License-Identifier: GPL-2.0
# Every normal exit path (SIGINT, SIGTERM, SIGHUP, --once) exits 0 and leaves no connpressure
# program, link or cgroup attachment behind.
import signal

from lib import bpfstate
from lib.check import assert_eq, assert_true


def exit_by_signal(ctx, sig):
    before = bpfstate.snapshot()
    ns = ctx.netns()
    t = ctx.tool(ns)
    running = bpfstate.ours_since(before, held_by=t.proc.pid)
    assert_true(running, "connpressure's programs are visible while it runs "
                "(else the leftover check below proves nothing)")
    rc = t.stop(sig, timeout=5)
    assert_eq(rc, 0, f"exit code after {sig.name} (None = still running after 5 s)")
    assert_eq(bpfstate.leftovers(before), [], f"programs/links/cgroup attachments left after {sig.name}")
    assert_eq(t.bad_lines, [], "stdout lines that are not JSON documents")


def test_sigint_detaches_everything(ctx):
    exit_by_signal(ctx, signal.SIGINT)


def test_sigterm_detaches_everything(ctx):
    exit_by_signal(ctx, signal.SIGTERM)


def test_sighup_detaches_everything(ctx):
    exit_by_signal(ctx, signal.SIGHUP)


def test_once_detaches_everything(ctx):
    before = bpfstate.snapshot()
    ns = ctx.netns()
    doc = ctx.once(ns)
    assert_eq(doc.get("schema"), 1, "--once printed a schema 1 document")
    assert_eq(bpfstate.leftovers(before), [], "programs/links/cgroup attachments left after --once")


def test_exit_under_load_detaches_everything(ctx):
    """SIGINT while sockets come and go (events in flight) still exits 0 and detaches."""
    before = bpfstate.snapshot()
    ns = ctx.netns(port_range=(40000, 40199))
    srv = ctx.workload(ns, comm="cpt-exit-srv")
    srv.listen(5000, serve=True)
    t = ctx.tool(ns)
    c = ctx.workload(ns, comm="cpt-exit-cli", mode="churn",
                     extra=["--dests", "127.0.0.1:5000", "--duration", "1.5", "--rate", "300"])
    t.wait_for(lambda d: True, "a document during the churn", timeout=5)
    rc = t.stop(signal.SIGINT, timeout=5)
    assert_eq(rc, 0, "exit code after SIGINT under load")
    c.wait_done(20)
    assert_eq(bpfstate.leftovers(before), [], "programs/links/cgroup attachments left")
