"""Benchmark: each area's CPU time and Ibis query count at one off-grid instant (findings, then
series), warm process, as `metrics.compute` runs them (one Context, inside one query-memo scope).

Why: the off-grid target (issue 15: all findings <= 1 s) is a sum of per-area costs, and each Ibis
query costs a fixed ~10-15 ms (expression building, planning, pandas conversion); this shows where
the time and the queries are, area by area. CPU time (time.process_time: this process, all threads)
is reported, not wall time: the machine is shared. Two warm-up computations at other instants come
first (the compile cache and the miners' whole-data model are then warm, as in a serving process).

Run: PYTHONPATH=src .venv/bin/python benchmarks/bench_area_cpu.py --store STORE [--at T1,T2,...]
Compare two versions by running it with each one's src first on PYTHONPATH, back to back.
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd

from btcstress import areas as registry
from btcstress import metrics, querymemo
from btcstress.metrics.context import Context
from btcstress.store import Store

AT = "2025-03-14T14:00Z,2025-03-14T15:00Z,2026-02-06T08:00Z,2024-08-05T13:37Z"


def run(store: Store, at: str, count: list[int]) -> dict[str, tuple[float, float, int, int]]:
    out = {}
    with querymemo.scope():
        ctx = Context(store=store, as_of=pd.Timestamp(at).to_pydatetime(), params={})
        ctx.require_data()
        for area in registry.all():
            n0, t0 = count[0], time.process_time()
            ctx.findings.extend(area.module().findings(ctx))
            n1, t1 = count[0], time.process_time()
            if area.charts:
                area.module().series(ctx)
            out[area.name] = (t1 - t0, time.process_time() - t1, n1 - n0, count[0] - n1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="/work/store/snapshot.duckdb")
    ap.add_argument("--at", default=AT, help="comma-separated off-grid instants")
    a = ap.parse_args()
    store = Store(a.store, read_only=True)
    for warm in ("2025-06-01T10:11Z", "2021-06-01T10:11Z"):
        metrics.compute(store, pd.Timestamp(warm).to_pydatetime(), with_series=True)
    count, execute = [0], store.ibis.execute

    def counting(expr, **kw):
        count[0] += 1
        return execute(expr, **kw)
    store.ibis.execute = counting
    runs = [run(store, t, count) for t in a.at.split(",")]
    print(f"{len(runs)} instants; load average {open('/proc/loadavg').read().split()[:3]}; CPU s, median")
    print(f"{'area':12s} {'findings':>9s} {'series':>7s} {'queries':>8s}")
    tot = [0.0, 0.0]
    for name in runs[0]:
        f = statistics.median(r[name][0] for r in runs)
        s = statistics.median(r[name][1] for r in runs)
        tot[0] += f
        tot[1] += s
        print(f"{name:12s} {f:9.3f} {s:7.3f} {runs[0][name][2]:4d}+{runs[0][name][3]:<3d}")
    print(f"{'sum':12s} {tot[0]:9.3f} {tot[1]:7.3f}")


if __name__ == "__main__":
    main()
