# SPDX-License-Identifier: GPL-2.0
# -o csv: the header (a contract for scripts), rows against `ss` and against the JSON document of
# the same state, and failures counted per interval in a stream.
import csv
import io
import signal
import subprocess
import time

from lib import ss
from lib.check import assert_eq, assert_true
from lib.tool import run_once

LO = "127.0.0.1"
HEADER = ["ts", "interval_seconds", "netns_cookie", "netns_name", "netns_cgroup", "proto", "saddr",
          "daddr", "dport", "in_use", "capacity", "pressure", "established", "syn_sent",
          "time_wait", "other", "new_per_second", "port_range_lo", "port_range_hi", "top_pid",
          "top_comm", "top_count", "pid_count", "failures", "failures_total",
          "lost_recursion_misses", "lost_map_full"]
STATES = ("established", "syn_sent", "time_wait", "other")


def parse(text):
    """(header, rows as dicts) of a CSV text."""
    lines = list(csv.reader(io.StringIO(text)))
    assert_true(lines, "csv output has a header line", text[:300])
    return lines[0], [dict(zip(lines[0], l)) for l in lines[1:]]


def csv_view(rows, name):
    return {(r["saddr"], r["daddr"], int(r["dport"])):
            {"in_use": int(r["in_use"]), "states": {s: int(r[s]) for s in STATES}}
            for r in rows if r["netns_name"] == name}


def test_csv_once_matches_ss_and_json(ctx):
    """--once -o csv: the exact header, one row per destination equal to ss, and the same
    capacity, pressure and holder as -o json gives for the same state (sockets made before the
    start have no known holder: empty fields, null in JSON)."""
    ns = ctx.netns(port_range=(40000, 40019))
    srv = ctx.workload(ns, comm="cpt-csv-srv")
    srv.listen(5000)
    srv.listen(5001)
    cli = ctx.workload(ns, comm="cpt-csv-cli")
    a = cli.connect(LO, 5000, n=6)
    cli.connect(LO, 5001, n=2)
    cli.close([c["id"] for c in a["conns"][:2]])    # client first: 2 in TIME_WAIT
    p = run_once(ctx.binary, ["--once", "-o", "csv", "-n", ns.name])
    assert_eq(p.returncode, 0, f"exit code of --once -o csv (stderr: {p.stderr[-300:]})")
    header, rows = parse(p.stdout)
    assert_eq(header, HEADER, "csv header")
    truth = ss.truth(ns)
    assert_eq(csv_view(rows, ns.name), truth, "csv rows vs ss (in_use, states)")
    doc = ctx.once(ns)
    dests = {(d["saddr"], d["daddr"], d["dport"]): d
             for e in doc["netns"] if e.get("name") == ns.name for d in e["destinations"]}
    for r in rows:
        d = dests[(r["saddr"], r["daddr"], int(r["dport"]))]
        th = d["top_holder"] or {}
        assert_eq((int(r["capacity"]), float(r["pressure"]), r["top_pid"], r["top_comm"],
                   r["top_count"]),
                  (d["capacity"], d["pressure"], str(th.get("pid", "")), th.get("comm", ""),
                   str(th.get("count", ""))),
                  f"csv row {r['dport']} vs json: capacity, pressure, holder")


def test_csv_stream_counts_failures_per_interval(ctx):
    """Streaming: connects refused for want of a port show in `failures` of the interval they
    happen in (summing to what the workload saw) and in `failures_total`."""
    ns = ctx.netns()    # 10 ports
    srv = ctx.workload(ns, comm="cpt-csv-srv")
    srv.listen(5000)
    cli = ctx.workload(ns, comm="cpt-csv,cli")     # a comma: the field must be quoted
    proc = subprocess.Popen([ctx.binary, "-o", "csv", "-i", "0.2", "-n", ns.name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx.defer(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
    first = proc.stdout.readline()  # the header comes with the first snapshot: attached
    assert_eq(first.strip().split(","), HEADER, "streamed csv header")
    r = cli.connect(LO, 5000, n=13)
    assert_eq((len(r["conns"]), [e["error"] for e in r["errors"]]), (10, ["EADDRNOTAVAIL"] * 3),
              "workload: 10 connects succeed, 3 get EADDRNOTAVAIL")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert_eq(proc.returncode, 0, f"exit code after SIGINT (stderr: {err[-300:]})")
    _, rows = parse(first + out)
    rows = [x for x in rows if x["netns_name"] == ns.name and x["dport"] == "5000"]
    assert_true(rows, "rows for the destination", out[:300])
    assert_eq(sum(int(x["failures"]) for x in rows), 3, "failures summed over the intervals")
    last = rows[-1]
    assert_eq((int(last["failures_total"]), int(last["in_use"]), int(last["top_pid"]),
               last["top_comm"]), (3, 10, cli.pid, "cpt-csv,cli"),
              "last row: failures_total, in_use, holder pid and comm (a comma in it)")
