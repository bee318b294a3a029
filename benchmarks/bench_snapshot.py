"""Benchmark: all findings as of one off-grid instant (`metrics.compute(store, T)`), with the compile
cache (btcstress.sqlcache, and with it btcstress.duckexec's DuckDB route) off and on, in one run.

For each mode: a fresh store connection and an empty cache, a *cold* first call at one instant, then
*warm* calls at other off-grid instants never asked before in the process (their expressions are
new objects with new literals: only their shapes repeat). Modes alternate instant by instant so that
the machine's load hits both alike. Every finding of a warm instant is checked equal between the
modes (same ids, subjects, windows, values to 1e-9 relative) before any time is reported. Per-area
times are the warm calls' medians. CPU time (this process, every thread) is reported beside wall
time: on the shared 2-core machine the wall time mostly measures the other jobs.

Run: .venv/bin/python benchmarks/bench_snapshot.py --store /work/store/snapshot.duckdb [--warm 4]
(the store is only read). Results: benchmarks/results/snapshot.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

from btcstress import areas as registry
from btcstress import metrics, sqlcache
from btcstress.store import Store

U = dt.timezone.utc
COLD = dt.datetime(2026, 2, 6, 7, 13, tzinfo=U)
WARM = [dt.datetime(2026, 2, 5, 16, 47, tzinfo=U), dt.datetime(2025, 11, 3, 14, 17, tzinfo=U),
        dt.datetime(2024, 3, 14, 3, 29, tzinfo=U), dt.datetime(2022, 6, 18, 21, 41, tzinfo=U),
        dt.datetime(2020, 3, 12, 15, 31, tzinfo=U), dt.datetime(2026, 1, 30, 11, 5, tzinfo=U)]


@contextmanager
def per_area(into: dict[str, float]):
    """Time each area's `findings(ctx)` (wall) into `into`."""
    saved = []
    for area in registry.all():
        mod = area.module()
        fn = mod.findings

        def timed(ctx, _fn=fn, _name=area.name):
            t = time.perf_counter()
            try:
                return _fn(ctx)
            finally:
                into[_name] = into.get(_name, 0.0) + time.perf_counter() - t
        saved.append((mod, fn))
        mod.findings = timed
    try:
        yield
    finally:
        for mod, fn in saved:
            mod.findings = fn


QUERIES = [0]  # Ibis queries the engine ran (a load-independent measure of per-query overhead)


@contextmanager
def counting():
    """Count DuckDB executions of Ibis expressions (the class method, and those btcstress.duckexec runs
    beside it; a repeat answered by btcstress.querymemo is not run, so not counted; the stress area's
    one raw query is not Ibis)."""
    from ibis.backends.duckdb import Backend

    from btcstress import duckexec
    plain = Backend.execute
    routed = duckexec.STATS["routed"]

    def execute(self, *a, **k):
        QUERIES[0] += 1
        return plain(self, *a, **k)
    Backend.execute = execute
    try:
        yield
    finally:
        Backend.execute = plain
        QUERIES[0] += duckexec.STATS["routed"] - routed


def run(store, at, mode: str) -> tuple[dict, float, float, dict]:
    os.environ[sqlcache.ENV] = mode
    areas: dict[str, float] = {}
    QUERIES[0] = 0
    with per_area(areas), counting():
        c, w = time.process_time(), time.perf_counter()
        fs = metrics.compute(store, at)
        cpu, wall = time.process_time() - c, time.perf_counter() - w
    areas["queries"] = QUERIES[0]
    return {(f.id, f.subject, f.window): f.value for f in fs.findings}, wall, cpu, areas


def same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k, x in a.items():
        y = b[k]
        if isinstance(x, float) and isinstance(y, float):
            if not (x == y or (math.isnan(x) and math.isnan(y)) or abs(x - y) <= 1e-9 * max(abs(x), abs(y))):
                return False
        elif x != y:
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, default=Path("/work/store/snapshot.duckdb"))
    ap.add_argument("--warm", type=int, default=4, help=f"warm instants (at most {len(WARM)})")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/snapshot.json"))
    args = ap.parse_args()
    modes = ("off", "on")
    stores = {m: Store(args.store, read_only=True) for m in modes}
    res: dict = {"date": dt.datetime.now(U).strftime("%Y-%m-%dT%H:%MZ"), "load_avg_1m_start": os.getloadavg()[0],
                 "cold_instant": COLD.isoformat(), "warm_instants": [t.isoformat() for t in WARM[:args.warm]]}
    try:
        for m in modes:
            sqlcache.CACHE.clear()
            _, wall, cpu, areas = run(stores[m], COLD, m)
            res[f"cold_{m}"] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                                "areas_s": {a: round(s, 3) for a, s in areas.items()}}
        warm = {m: {"wall": [], "cpu": [], "areas": []} for m in modes}
        for at in WARM[:args.warm]:
            values = {}
            for m in modes:
                values[m], wall, cpu, areas = run(stores[m], at, m)
                warm[m]["wall"].append(wall)
                warm[m]["cpu"].append(cpu)
                warm[m]["areas"].append(areas)
            assert same(values["off"], values["on"]), f"findings differ at {at} between cache off and on"
        for m in modes:
            names = warm[m]["areas"][0].keys()
            res[f"warm_{m}"] = {"wall_median_s": round(statistics.median(warm[m]["wall"]), 3),
                                "cpu_median_s": round(statistics.median(warm[m]["cpu"]), 3),
                                "wall_s": [round(x, 3) for x in warm[m]["wall"]],
                                "areas_median_s": {a: round(statistics.median(d[a] for d in warm[m]["areas"]), 3)
                                                   for a in names}}
        res["ratio_warm_wall_off_over_on"] = round(res["warm_off"]["wall_median_s"] / res["warm_on"]["wall_median_s"], 2)
        res["ratio_warm_cpu_off_over_on"] = round(res["warm_off"]["cpu_median_s"] / res["warm_on"]["cpu_median_s"], 2)
        res["ratio_cold_cpu_off_over_on"] = round(res["cold_off"]["cpu_s"] / res["cold_on"]["cpu_s"], 2)
        res["cache"] = {"shapes": len(sqlcache.CACHE), **vars(sqlcache.CACHE.stats)}
        res["load_avg_1m_end"] = os.getloadavg()[0]
    finally:
        for s in stores.values():
            s.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
