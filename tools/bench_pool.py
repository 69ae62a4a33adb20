#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench_pool.py: pool the rounds of several tools/bench.sh --json files.

    tools/bench_pool.py RUN1.json RUN2.json ...

One round's ratio varies by several % on a small VM, so a 1-2% cost needs more rounds than one
run holds. This pools each (mode, tracer)'s per-round ratios (the ones a run used: its quiet
samples) over the files and prints their count, median and mean, and a 90% interval for the
median (bootstrap, 4,000 resamples, fixed seed) -- as bench.sh does for one run. Pool only
runs of the same builds, made in one session on one machine.
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
    pooled, runs = {}, {}
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
            runs[key] = runs.get(key, 0) + 1
    rng = random.Random(1)
    print(f"{'mode':17} {'tracer':19} {'runs':>4} {'rounds':>6} {'median':>7} {'mean':>6}  median 90% CI")
    for (mode, tracer), v in sorted(pooled.items()):
        lo, hi = median_ci(v, rng) if len(v) >= 3 else (float("nan"), float("nan"))
        print(f"{mode:17} {tracer:19} {runs[(mode, tracer)]:4} {len(v):6} "
              f"{statistics.median(v):7.3f} {statistics.mean(v):6.3f}  {lo:.3f}-{hi:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
