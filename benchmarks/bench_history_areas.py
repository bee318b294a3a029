"""Benchmark: one area's whole history, series-first, against the loop of snapshots it replaces.

For each area asked (default etf, treasuries), on the snapshot store:
  daily   every finding of the area at each UTC day's end 2018-01-01 -> 2026-02-06 (2,958 instants),
          set-based (`metrics.<area>.history`; the price rows it reads are computed first and not
          counted);
  grid    the same on the materialised grid (daily since the first bar + hourly where bars are hourly);
  loop    the area's snapshot (`metrics.compute(areas=("price", area))`) at a seeded sample of the daily
          instants, scaled to the 2,958: what the history cost before the area was series-first.
Both paths' rows at the sampled instants are compared first (ids, subjects, windows, values 1e-9).
For miners also:
  one     `miners.hashprice_usd_per_ph_day` with its z-score and percentile, daily 2018-2026: the engine
          (`history.compute(areas=("miners",))`, the price area it reads included), and a fair hand-written
          pandas/numpy version (load the two network metrics once, pivot, sort once, each day's trailing
          year cut with `searchsorted`, each instant's day with `searchsorted` over publication times);
          values (and z-scores/percentiles) compared before times are reported.

Run: .venv/bin/python benchmarks/bench_history_areas.py --store /work/store/snapshot.duckdb [--areas etf]
       [--sample 10]
The store is opened read-only. Times are wall seconds of one run; write down the machine's load beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import time

import numpy as np
import pandas as pd

from btcstress import history, metrics
from btcstress.history import row_of
from btcstress.history.calendar import grid, instants
from btcstress.history.context import HistoryContext
from btcstress.store import Store

START, END = dt.datetime(2018, 1, 1), dt.datetime(2026, 2, 6)


def _area_module(area: str):
    return next(m for m in history.area_modules() if history.area_name(m) == area)


def _series(store, area: str, ts: list[dt.datetime]) -> tuple[float, int]:
    price = history.compute(store, ts, areas=("price",), fallback=False).rows
    hctx = HistoryContext(store=store, instants=ts)
    hctx.rows.append(price)
    t0 = time.perf_counter()
    rows = _area_module(area).history(hctx)
    return time.perf_counter() - t0, len(rows)


def _loop(store, area: str, ts: list[dt.datetime]) -> tuple[float, list[dict]]:
    out, spent = [], 0.0
    for t in ts:
        t0 = time.perf_counter()
        fs = metrics.compute(store, t, areas=("price", area))
        spent += time.perf_counter() - t0
        out += [row_of(f, t) for f in fs if not f.id.startswith("price.")]
    # The price area's own share is not the area's cost: time it alone and subtract.
    t0 = time.perf_counter()
    for t in ts:
        metrics.compute(store, t, areas=("price",))
    return spent - (time.perf_counter() - t0), out


def _check(store, area: str, sample: list[dt.datetime], snap: list[dict]) -> int:
    got = history.compute(store, sample, areas=(area,), fallback=False).rows
    key = lambda r: (r["as_of"], r["id"], r["subject"], r["window"], r["kind"])  # noqa: E731
    have = {key(r): r for r in got.to_dict("records")}
    bad = 0
    for r in snap:
        h = have.get(key(r))
        v, w = r["value"], (h or {}).get("value")
        if h is None or ((v is None) != (w is None or math.isnan(w))) or (
                v is not None and not math.isclose(v, w, rel_tol=1e-9)):
            bad += 1
    return bad + abs(len(have) - len(snap))


def pandas_hashprice(path, ts: list[dt.datetime], days: int = 365) -> pd.DataFrame:
    """miners.hashprice_usd_per_ph_day (value, z-score, percentile) at each instant, as a competent
    pandas user writes it: one read, one pivot, sorted once, searchsorted for every cut."""
    import duckdb
    con = duckdb.connect(str(path), read_only=True)
    d = con.execute("SELECT date, metric, value, available_at FROM network_daily").df()
    con.close()
    w = d.pivot_table(index="date", columns="metric", values="value", aggfunc="max").sort_index()
    known = d.groupby("date")["available_at"].min().reindex(w.index)  # a day is known from its first row
    hp = (w["block_rewards_usd"] / (w["hashrate_hs"] / 1e15)).to_numpy()
    dates = w.index.to_numpy(dtype="datetime64[D]")
    # Trailing year [D - days, D) of every day, by searchsorted on the sorted dates.
    lo = np.searchsorted(dates, dates - np.timedelta64(days, "D"), side="left")
    hi = np.arange(len(dates))
    n = hi - lo
    z = np.full(len(dates), np.nan)
    pct = np.full(len(dates), np.nan)
    for i in np.nonzero(n > 30)[0]:
        x = hp[lo[i]:hi[i]]
        x = x[~np.isnan(x)]
        if len(x) < 2:
            continue
        sd = x.std(ddof=1)
        if sd and not np.isnan(hp[i]):
            z[i] = round(float((hp[i] - x.mean()) / sd), 2)
            pct[i] = round(100 * float((x <= hp[i]).sum() / len(x)), 1)
    z[n < 180] = np.nan  # metrics.stats.MIN_HISTORY
    pct[n < 180] = np.nan
    order = np.argsort(known.to_numpy(), kind="stable")
    kt = known.to_numpy()[order]
    last = np.maximum.accumulate(order)  # the latest day known by each publication time
    at = np.searchsorted(kt, np.array(ts, dtype="datetime64[ns]"), side="right") - 1
    i = np.where(at >= 0, last[np.maximum(at, 0)], -1)
    ok = i >= 0
    return pd.DataFrame({"as_of": ts, "value": np.where(ok, np.round(hp[i], 2), np.nan),
                         "zscore": np.where(ok, z[i], np.nan), "percentile": np.where(ok, pct[i], np.nan)})


def _one_miners(store, path, ts: list[dt.datetime]) -> dict:
    t0 = time.perf_counter()
    rows = history.compute(store, ts, areas=("miners",), fallback=False).rows
    eng = time.perf_counter() - t0
    t0 = time.perf_counter()
    pdf = pandas_hashprice(path, ts)
    pd_s = time.perf_counter() - t0
    e = rows[rows["id"] == "miners.hashprice_usd_per_ph_day"].reset_index(drop=True)
    diff = sum(not (math.isclose(a, b, rel_tol=1e-9) or (math.isnan(a) and math.isnan(b)))
               for col in ("value", "zscore", "percentile") for a, b in zip(e[col], pdf[col]))
    return {"engine_s": round(eng, 2), "pandas_s": round(pd_s, 3), "ratio_engine_over_pandas": round(eng / pd_s, 1),
            "instants": len(ts), "differences": diff}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="/work/store/snapshot.duckdb")
    ap.add_argument("--areas", default="etf,treasuries")
    ap.add_argument("--sample", type=int, default=10)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: grid, loop")
    a = ap.parse_args()
    res = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"), "load": os.getloadavg()[0]}
    with Store(a.store, read_only=True) as s:
        daily = instants(START, END, "1d")
        full = grid(s)
        sample = sorted(random.Random(20260206).sample(daily, a.sample))
        skip = set(a.skip.split(","))
        for area in a.areas.split(","):
            if area == "miners":
                res["miners_one"] = _one_miners(s, a.store, daily)
                print(json.dumps({"miners_one": res["miners_one"]}), flush=True)
            d_s, d_n = _series(s, area, daily)
            g_s, g_n = _series(s, area, full) if "grid" not in skip else (float("nan"), 0)
            l_s, snap = _loop(s, area, sample)
            per = l_s / len(sample)
            res[area] = {"daily_s": round(d_s, 2), "daily_rows": d_n, "grid_s": round(g_s, 2), "grid_instants": len(full),
                         "grid_rows": g_n, "snapshot_per_instant_s": round(per, 3),
                         "loop_daily_scaled_s": round(per * len(daily)), "ratio_loop_over_series": round(per * len(daily) / d_s),
                         "differences_at_sample": _check(s, area, sample, snap)}
            print(json.dumps({area: res[area]}), flush=True)
    res["load_after"] = os.getloadavg()[0]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
