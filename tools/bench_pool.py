#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench_pool.py: pool the rounds of several tools/bench.sh --json files.

    tools/bench_pool.py RUN1.json RUN2.json ...

One round's ratio varies by several % on a small VM, so a 1-2% cost needs more rounds than one
run holds. This pools each (mode, tracer)'s per-round rate ratios (the ones a run used: its
quiet samples) over the files and prints their count, median and mean, and a 90% interval for
the median (bootstrap, 4,000 resamples, fixed seed) -- as bench.sh does for one run -- and the
same for the machine's CPU per connection, traced / untraced (cpu/conn), where the files have
it. Pool only runs of the same builds, made in one session on one machine.
"""
import json
import random
import statistics
import sys


def median_ci(values, rng):
    meds = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(4000))
    return meds[200], meds[3799]


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    pooled, costs, runs = {}, {}, {}
    for path in paths:
        try:
            with open(path) as f:
                rows = json.load(f)
        except (OSError, ValueError) as e:
            print(f"bench_pool: {path}: {e}", file=sys.stderr)
            return 1
        for row in rows:
            if "ratios_used" not in row:
                continue	# a skipped tracer
            key = (row["mode"], row["tracer"])
            pooled.setdefault(key, []).extend(row["ratios_used"])
            costs.setdefault(key, []).extend(row.get("cpu_per_conn_ratios_used", []))
            runs[key] = runs.get(key, 0) + 1
    rng = random.Random(1)
    print(f"{'mode':17} {'tracer':19} {'runs':>4} {'rounds':>6} {'median':>7} {'mean':>6}  "
          f"{'median 90% CI':13}  cpu/conn: rounds median 90% CI")
    for (mode, tracer), v in sorted(pooled.items()):
        line = f"{mode:17} {tracer:19} {runs[(mode, tracer)]:4} {len(v):6} {summary(v, rng)}"
        c = costs[(mode, tracer)]
        if c:
            line += f"  {len(c):6} {summary(c, rng, mean=False)}"
        print(line)
    return 0


def summary(v, rng, mean=True):
    """'median [mean] lo-hi' of v."""
    lo, hi = median_ci(v, rng) if len(v) >= 3 else (float("nan"), float("nan"))
    return (f"{statistics.median(v):7.3f} " + (f"{statistics.mean(v):6.3f} " if mean else "") +
            f" {lo:.3f}-{hi:.3f}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
