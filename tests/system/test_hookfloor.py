# SPDX-License-Identifier: GPL-2.0
# tools/hookfloor, the benchmark's do-nothing BPF tracer: the floor tools/bench.sh compares
# connpressure with is only a floor if its programs really run on every connection, and the
# benchmark's program-time table is only right if they are found by the fds of their process.
import os
import re
import signal
import subprocess
import time

from lib import bpfstate
from lib.check import assert_eq, assert_true

STATS = "/proc/sys/kernel/bpf_stats_enabled"


def floor_progs():
    return {p["id"]: p for p in bpfstate.bpftool_json("prog", "show")
            if p.get("name", "").startswith("floor_")}


def test_hookfloor_runs_on_every_connection_and_detaches(ctx):
    """Its two programs attach, run for every connection of a storm (run counts with BPF
    statistics on, against the connections loadgen made), are held by its fds, and are gone
    after SIGINT."""
    tools = os.path.dirname(ctx.binary)
    ns = ctx.netns(port_range=(20000, 60999), sysctls={"net.ipv4.tcp_tw_reuse": "1"})
    with open(STATS) as f:
        stats_was = f.read().strip()
    ctx.defer(lambda: open(STATS, "w").write(stats_was))
    proc = subprocess.Popen([os.path.join(tools, "hookfloor")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ctx.defer(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
    line = proc.stdout.readline()
    assert_true("attached" in line, f"hookfloor's start line: {line!r}", proc.stderr.read()
                if proc.poll() is not None else "")
    progs = floor_progs()
    assert_eq(sorted(p["name"] for p in progs.values()),
              ["floor_inet_sock_set_state", "floor_tcp_destroy_sock"], "its programs")
    held, _ = bpfstate.fd_refs(proc.pid).get(proc.pid, (set(), set()))
    assert_eq(held, set(progs), "the programs it holds through its fds (how bench.sh finds them)")

    with open(STATS, "w") as f:
        f.write("1")
    before = {i: p.get("run_cnt", 0) for i, p in floor_progs().items()}
    out = ns.run([os.path.join(tools, "loadgen"), "--mode", "tcp-client-close",
                  "--seconds", "1"], timeout=30).stdout
    conns = int(re.search(r"ops=(\d+)", out).group(1))
    # The last connections' closes and destructions come a little after loadgen's exit (later
    # on a loaded machine): wait for them, up to 5 s.
    deadline = time.monotonic() + 5
    while True:
        after = floor_progs()
        runs = {after[i]["name"]: after[i].get("run_cnt", 0) - before[i] for i in before}
        if runs["floor_tcp_destroy_sock"] >= 2 * conns - 100 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert_true(conns > 1000, f"loadgen made {conns} connections (precondition)", out)
    # Per client-close connection: 5 state changes of the client socket, 4 of the accepted one
    # (more if anything else on the machine talks TCP meanwhile); two full sockets destroyed.
    set_state, destroy = runs["floor_inet_sock_set_state"], runs["floor_tcp_destroy_sock"]
    assert_true(set_state >= 9 * conns,
                f"inet_sock_set_state runs {set_state} >= 9 x {conns} connections")
    assert_true(destroy >= 2 * conns - 100,
                f"tcp_destroy_sock runs {destroy} ~ 2 x {conns} connections")

    proc.send_signal(signal.SIGINT)
    assert_eq(proc.wait(timeout=5), 0, "exit code after SIGINT")
    deadline = time.time() + 2
    while floor_progs() and time.time() < deadline:
        time.sleep(0.1)     # programs are freed after an RCU grace period
    assert_eq(floor_progs(), {}, "hookfloor programs left after it exited")
