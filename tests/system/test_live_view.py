# SPDX-License-Identifier: GPL-2.0
# The live view (default output on a terminal), driven in a tmux pane: 80 columns, refreshed every
# interval, worst pressure first, the netns header with its limits, failures with their process
# visible without scrolling even when there are more destinations than lines; -w shows full
# addresses.
import re

from lib.check import assert_eq, assert_true
from lib.term import TmuxView

LO = "127.0.0.1"
LONG6 = "fd00:1234:5678:9abc:def0:1234:5678:9abc"
LOW_PORTS = range(5100, 5130)            # 30 destinations with 1 connection each (pressure 10%)


def find(lines, *words, exclude=()):
    """Index of the first line containing every word and none of `exclude`, or None."""
    for i, line in enumerate(lines):
        if all(w in line for w in words) and not any(x in line for x in exclude):
            return i
    return None


def in_use_after(line, token):
    """The first number after `token` on a destination row (the IN_USE column), or None."""
    words = line.split()
    for i, w in enumerate(words):
        if w == token or w.endswith(token):
            for x in words[i + 1:]:
                if re.fullmatch(r"\d+", x):
                    return int(x)
            return None
    return None


def dest_row(lines, token):
    return find(lines, token, exclude=("EADDRNOTAVAIL", "EAGAIN", "EADDRINUSE", "!"))


def shows_dest(token, in_use):
    def pred(lines):
        i = dest_row(lines, token)
        return i is not None and in_use_after(lines[i], token) == in_use
    return pred


def screen_text(lines):
    return "\n".join(lines)


def setup(ctx):
    ns = ctx.netns()
    ns.run(["ip", "addr", "add", f"{LONG6}/128", "dev", "lo", "nodad"])
    srv = ctx.workload(ns, comm="cpt-lvsrv")
    srv.listen(5000)
    srv.listen(5001)
    srv.listen(5002, addr=LONG6, family="inet6")
    for port in LOW_PORTS:
        srv.listen(port)
    cli = ctx.workload(ns, comm="cpt-lvhold")
    assert_eq(len(cli.connect(LO, 5000, n=10)["conns"]), 10, "workload: 10 to 127.0.0.1:5000")
    assert_eq(len(cli.connect(LONG6, 5002, n=5, family="inet6")["conns"]), 5,
              f"workload: 5 to [{LONG6}]:5002")
    for port in LOW_PORTS:
        assert_eq(len(cli.connect(LO, port, n=1)["conns"]), 1, f"workload: 1 to 127.0.0.1:{port}")
    return ns, cli


def test_live_view_80_columns(ctx):
    ns, cli = setup(ctx)
    view = TmuxView([ctx.binary, "-n", ns.name, "-i", "0.5"], width=80, height=30)
    ctx.defer(view.stop)
    view.wait_for(shows_dest(f"{LO}:5000", 10), "destination 127.0.0.1:5000 with IN_USE 10")
    fail = ctx.workload(ns, comm="cpt-lvfail")
    r = fail.connect(LO, 5000, n=2)
    assert_eq([e["error"] for e in r["errors"]], ["EADDRNOTAVAIL"] * 2,
              "kernel: 127.0.0.1:5000 is full, 2 connects fail")
    lines = view.wait_for(lambda ls: find(ls, "EADDRNOTAVAIL", "cpt-lvfail") is not None
                          and shows_dest(f"{LO}:5000", 10)(ls),
                          "failure row (EADDRNOTAVAIL, process cpt-lvfail) with the full "
                          "destination, on one 30-line screen with 30+ destinations")
    text = screen_text(lines)
    head = find(lines, ns.name)
    frow = find(lines, "EADDRNOTAVAIL", "cpt-lvfail")
    drow = dest_row(lines, f"{LO}:5000")
    assert_true(head is not None, f"netns header naming {ns.name} on screen", text)
    assert_true(find(lines, "40000-40009") is not None, "netns header shows the range 40000-40009",
                text)
    assert_true(f"{LO}:5000" in lines[frow], "failure row names its destination", lines[frow])
    assert_true(head < frow < drow, "order: netns header, then failures, then destination rows",
                f"header line {head}, failure line {frow}, destination line {drow}\n{text}")
    low = [i for i in range(len(lines)) if any(f"{LO}:{p}" in lines[i] for p in LOW_PORTS)]
    assert_true(all(i > drow for i in low), "worst pressure first: 127.0.0.1:5000 (100%) above "
                "the 10% destinations", text)
    wide = [len(x) for x in lines if len(x) > 80]
    assert_eq(wide, [], "lines longer than 80 columns in an 80-column terminal")
    assert_true(len(lines) <= 30, "screen holds at most 30 lines", str(len(lines)))

    r = cli.connect(LO, 5001, n=7)
    assert_eq(len(r["conns"]), 7, "workload: 7 to 127.0.0.1:5001 while the view runs")
    lines = view.wait_for(shows_dest(f"{LO}:5001", 7),
                          "refresh: new destination 127.0.0.1:5001 with IN_USE 7")
    i5000, i5001 = dest_row(lines, f"{LO}:5000"), dest_row(lines, f"{LO}:5001")
    assert_true(i5000 is not None and i5000 < i5001, "after refresh: 100% row above the 70% row",
                screen_text(lines))
    assert_eq([len(x) for x in lines if len(x) > 80], [], "lines longer than 80 columns (refresh)")


def test_live_view_wide(ctx):
    ns, cli = setup(ctx)
    view = TmuxView([ctx.binary, "-n", ns.name, "-i", "0.5", "-w"], width=200, height=50)
    ctx.defer(view.stop)
    lines = view.wait_for(lambda ls: shows_dest(f"{LO}:5000", 10)(ls) and find(ls, LONG6),
                          f"-w: full IPv6 address {LONG6} and 127.0.0.1:5000 with IN_USE 10")
    i = find(lines, LONG6)
    assert_true(":5002" in lines[i] and re.search(r"\b5\b", lines[i].split(":5002", 1)[1]),
                f"-w: the [{LONG6}]:5002 row shows port 5002 and IN_USE 5", lines[i])
