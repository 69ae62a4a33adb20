# SPDX-License-Identifier: GPL-2.0
# A long run keeps room for what is live: destinations whose kernel entries stayed empty for
# --prune-after seconds are deleted, so new destinations are counted even with a map that could
# not hold old and new together.
import time

from lib.check import assert_eq
from lib.tool import dest_field

LO = "127.0.0.1"


def test_idle_destinations_make_room_for_new_ones(ctx):
    ns = ctx.netns(port_range=(40000, 40099))
    w = ctx.workload(ns, comm="cpt-prune")
    for port in (5101, 5102, 5103, 5201, 5202, 5203):
        w.listen(port)
    t = ctx.tool(ns, args=("--max-dests", "3", "--max-holders", "3", "--prune-after", "1"))
    old = w.connect(LO, 5101, n=1)["conns"] + w.connect(LO, 5102, n=1)["conns"] + \
        w.connect(LO, 5103, n=1)["conns"]
    t.wait_value(dest_field(ns.name, LO, LO, 5103, "in_use"), 1, "the third old destination")
    w.close([c["id"] for c in old], order="server_first")   # no TIME_WAIT on the client side
    time.sleep(3)                                           # two prune rounds
    m = t.mark()
    for port in (5201, 5202, 5203):
        w.connect(LO, port, n=2)
    for port in (5201, 5202, 5203):
        t.wait_value(dest_field(ns.name, LO, LO, port, "in_use"), 2,
                     f"a new destination :{port} counted after the idle ones were pruned",
                     since=m)
    doc = t.all_docs()[-1]
    assert_eq(doc["lost"]["map_full"], 0, "no insert refused: the idle entries made room")
