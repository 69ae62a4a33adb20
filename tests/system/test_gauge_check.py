# SPDX-License-Identifier: GPL-2.0
# The live gauges are checked against the kernel's sockets: a gauge knocked off (here by writing
# the tool's own dest_stats entry with bpftool, as a transition the hooks never saw would) is put
# right at the next check of a quiet destination, and the correction is reported.
import os
import struct
import subprocess

from lib import ss
from lib.bpfstate import bpftool_json
from lib.check import assert_eq, assert_true
from lib.tool import dest_view, ns_entry

LO = "127.0.0.1"
KEY = (LO, LO, 5000)
OTHER_OFF = 64 + 16     # struct cp_dest_entry: a 64-byte head, then stripe 0: syn_sent, established, other


def map_ids_of(pid):
    """Ids of the BPF maps process pid holds file descriptors to."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if "bpf-map" not in os.readlink(f"/proc/{pid}/fd/{fd}"):
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                ids |= {int(l.split(":")[1]) for l in f if l.startswith("map_id:")}
        except OSError:
            continue
    return ids


def bump_other(pid, cookie, dport, delta):
    """Add delta to `other` of the dest_stats entry (cookie, dport) of the tool running as pid."""
    mine = map_ids_of(pid)
    maps = [m for m in bpftool_json("map", "show")
            if m.get("name") == "dest_stats" and m.get("id") in mine]
    assert_eq(len(maps), 1, f"the dest_stats map of pid {pid} (precondition)")
    mid = str(maps[0]["id"])
    for e in bpftool_json("map", "dump", "id", mid):
        key = bytes(int(b, 16) for b in e["key"])    # struct cp_dest_key, no BTF
        if struct.unpack_from("<Q", key, 0)[0] != cookie or struct.unpack_from("<H", key, 40)[0] != dport:
            continue
        val = bytearray(int(b, 16) for b in e["value"])
        other, = struct.unpack_from("<q", val, OTHER_OFF)
        struct.pack_into("<q", val, OTHER_OFF, other + delta)
        subprocess.run(["bpftool", "map", "update", "id", mid, "key", "hex",
                        *[b[2:] for b in e["key"]], "value", "hex", *[f"{b:02x}" for b in val]],
                       check=True, capture_output=True, timeout=10)
        return
    raise AssertionError(f"no dest_stats entry for netns cookie {cookie} dport {dport}")


def gauge_check(doc, name):
    return (ns_entry(doc, name) or {}).get("gauge_check") or {}


def test_knocked_off_gauge_corrected_at_the_next_check(ctx):
    ns = ctx.netns()
    w = ctx.workload(ns, comm="cpt-gauge")
    w.listen(5000)
    t = ctx.tool(ns, args=["--correct-every", "1"])
    r = w.connect(LO, 5000, n=4)
    assert_eq(len(r["conns"]), 4, "workload: 4 connections")
    # One closed client-first: TIME_WAIT in the netns is what brings the checks.
    w.close([r["conns"][0]["id"]], order="client_first")
    truth = ss.truth(ns)[KEY]
    doc = t.wait_value(lambda d: dest_view(d, ns.name, *KEY), truth, "gauges vs ss before")
    bump_other(t.proc.pid, ns_entry(doc, ns.name)["cookie"], 5000, 2)
    t.wait_for(lambda d: (dest_view(d, ns.name, *KEY) or {}).get("in_use") == truth["in_use"] + 2,
               "the knocked-off gauge shows (in_use + 2)", timeout=3)
    doc = t.wait_value(lambda d: dest_view(d, ns.name, *KEY), truth,
                       "gauges vs ss after the next check", timeout=10, stable=2)
    g = gauge_check(doc, ns.name)
    assert_true(g.get("correction_total", 0) >= 2,
                "gauge_check.correction_total counts the 2 sockets it moved", repr(g))
    # The correction holds when the destination moves on: 2 more connections.
    r = w.connect(LO, 5000, n=2)
    assert_eq(len(r["conns"]), 2, "workload: 2 more connections")
    t.wait_value(lambda d: dest_view(d, ns.name, *KEY), ss.truth(ns)[KEY],
                 "gauges vs ss after new connections", timeout=5)
