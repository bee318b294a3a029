"""The dashboard's charts step in-process: `metrics.compute(store, T, with_series=True)` (what the API computes
for the charts and the brief of an instant) and the stress area alone, before and after a change, in ONE run.

Two source trees (the working tree's src/ and, by default, main before session 6's charts work, exported
with `git archive`) are measured alternately, each in its own Python process (a fresh import), rounds
times: each process warms up at START (compile caches, the DuckDB pages), then at every instant of STEPS
(the dashboard benchmark's as-of steps) times
- all areas with series (the charts step's computation) and without (the findings alone),
- the stress area with series (its findings, episodes and day-end chart) and without (its findings).
CPU time (time.process_time: the process and its DuckDB threads) and wall time; the medians over the
instants and rounds are printed with the load average (the machine is shared: prefer CPU).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_charts_step.py --db data/snap.duckdb [--baseline-ref REF]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ["2026-02-05T10:00", "2026-02-05T11:00", "2026-02-06T04:00", "2025-10-11T07:00", "2024-08-06T07:00",
         "2024-03-15T07:00"]
START = "2026-02-06T08:00"
BASELINE_REF = "418b8f2"  # main before the charts work of session 6 (the lead's 05:47Z measurement)
CASES = {"all, with series": (None, True), "all, findings only": (None, False),
         "stress, with series": (("stress",), True), "stress, findings only": (("stress",), False)}

CHILD = r"""
import datetime as dt, json, sys, time
from btcstress import metrics
from btcstress.store import Store
CASES = json.loads(sys.argv[3])
s = Store(sys.argv[1], read_only=True)
def at(v): return dt.datetime.fromisoformat(v).replace(tzinfo=dt.timezone.utc)
for areas, series in CASES.values():
    metrics.compute(s, at(sys.argv[2]), areas=tuple(areas) if areas else None, with_series=series)
out = {}
for v in json.loads(sys.argv[4]):
    for name, (areas, series) in CASES.items():
        c0, w0 = time.process_time(), time.perf_counter()
        metrics.compute(s, at(v), areas=tuple(areas) if areas else None, with_series=series)
        out.setdefault(name, []).append((time.process_time() - c0, time.perf_counter() - w0))
print(json.dumps(out))
"""


def measure(src: Path, db: str) -> dict[str, list[tuple[float, float]]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    r = subprocess.run([sys.executable, "-c", CHILD, db, START, json.dumps(CASES), json.dumps(STEPS)], env=env,
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=str(ROOT / "data" / "btcstress.duckdb"))
    ap.add_argument("--baseline-ref", default=BASELINE_REF)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    load = [open("/proc/loadavg").read().split()[:3]]
    with tempfile.TemporaryDirectory() as tmp:
        arch = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline_ref, "src"], capture_output=True,
                              check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=arch, check=True)
        trees = {f"before ({args.baseline_ref})": Path(tmp) / "src", "after (working tree)": ROOT / "src"}
        runs: dict[str, dict[str, list]] = {k: {} for k in trees}
        for _ in range(args.rounds):
            for label, src in trees.items():
                for case, xs in measure(src, args.db).items():
                    runs[label].setdefault(case, []).extend(xs)
    load.append(open("/proc/loadavg").read().split()[:3])
    print(f"{len(STEPS)} instants x {args.rounds} rounds; load average before {load[0]}, after {load[1]}; "
          f"median CPU s / wall s")
    print(f"{'':24s}" + "".join(f"{label:>30s}" for label in trees))
    for case in CASES:
        cells = []
        for label in trees:
            xs = runs[label][case]
            cells.append(f"{statistics.median(c for c, _ in xs):.3f} / {statistics.median(w for _, w in xs):.3f}")
        print(f"{case:24s}" + "".join(f"{c:>30s}" for c in cells))


if __name__ == "__main__":
    main()
