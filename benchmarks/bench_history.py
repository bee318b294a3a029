"""Benchmark: the history engine on the snapshot store, each result a ratio measured in one run.

  one     one finding's daily history 2018-01-01 -> 2026-02-06 (price.change_1d_pct, with its z-score and
          percentile): the engine (set-based), the stored lookup, the loop of snapshots (a sample of
          instants, scaled), and a fair hand-written pandas/numpy version (load once, sort once, rolling
          window, searchsorted per instant). Values must agree before times are reported.
  rebuild every series-first finding on the whole grid (daily + hourly), full; the fallback areas'
          per-instant cost, sampled and scaled to the daily 2018-2026 calendar.
  refresh incremental refresh after ingesting one more day (the store cut at a day, rebuilt, then that
          day's rows ingested again).
  leverage liquidations.total_usd (BTC+ETH) daily 2018-2026: the leverage area's set-based history, the
          stored lookup, the loop of snapshots (sampled, scaled); sampled values must agree.
  instant all findings at an on-grid and an off-grid instant vs today's snapshot of every area.

Run: .venv/bin/python benchmarks/bench_history.py --store /work/store/snapshot.duckdb [--only one,instant]
The store is copied to a temporary folder first (never written in place).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from btcstress import history, metrics, quality, schema, sqlcache
from btcstress.history import fallback, materialize
from btcstress.history.calendar import instants
from btcstress.store import Store

FID = "price.change_1d_pct"
START, END = dt.datetime(2018, 1, 1), dt.datetime(2026, 2, 6)
CRASH = dt.datetime(2026, 2, 6, 8, 0)


def timed(fn, *a, **k):
    t = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t


def timed_cpu(fn, *a, **k):
    """(result, wall seconds, CPU seconds of this process and its threads: steadier on a shared machine)."""
    c = time.process_time()
    out, wall = timed(fn, *a, **k)
    return out, wall, time.process_time() - c


def pandas_history(db: Path, ts: list[dt.datetime]) -> pd.DataFrame:
    """price.change_1d_pct with z and percentile as a competent pandas user writes it (same store)."""
    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    d = con.execute("SELECT open_time, close, available_at FROM candles WHERE venue = 'cryptoquant' "
                    "AND symbol = 'BTC-USD' AND interval = '1d' ORDER BY open_time").df()
    con.close()
    d["ret"] = d["close"] / d["close"].shift() - 1
    r = d.set_index("open_time")["ret"].dropna()
    roll = r.rolling("365D", closed="left")  # [day - 365 d, day): the trailing year
    stats = pd.DataFrame({"mean": roll.mean(), "std": roll.std()})
    vals = r.to_numpy()
    below = np.array([(vals[:i] <= v).sum() for i, v in enumerate(vals)])  # earlier days at or below
    stats["pct"] = np.where(np.arange(len(vals)) > 0, 100 * below / np.maximum(np.arange(len(vals)), 1), np.nan)
    d = d.merge(stats, left_on="open_time", right_index=True, how="left")
    k = np.searchsorted(d["available_at"].to_numpy(), np.array(ts, dtype="datetime64[us]"), "right") - 1
    row = d.iloc[k]
    # Rounded as btcstress rounds (Python's correctly rounded round(), not numpy's scaled one, which
    # differs on ties such as 51.175).
    py_round = lambda x: round(x, 2)  # noqa: E731
    z = ((row["ret"] - row["mean"]) / row["std"]).map(py_round, na_action="ignore")
    return pd.DataFrame({"as_of": ts, "value": (row["ret"] * 100).to_numpy(), "zscore": z.to_numpy(),
                         "percentile": row["pct"].map(py_round, na_action="ignore").to_numpy()})


def bench_one(db: Path, sample: int) -> dict:
    ts = instants(START, END, "1d")
    with Store(db, read_only=True) as s:
        rows, engine_s = timed(history.compute, s, ts, areas=("price",))
        got = rows.rows[rows.rows["id"] == FID].reset_index(drop=True)
        stored, stored_s = timed(materialize.read, s, [FID], ts[0], ts[-1])
        picks = [ts[int(i)] for i in np.linspace(0, len(ts) - 1, sample)]
        loop = [timed(metrics.compute, s, t, areas=("price",))[1] for t in picks]
    theirs, pandas_s = timed(pandas_history, db, ts)
    assert np.allclose(got["value"], theirs["value"], rtol=1e-9, equal_nan=True)
    assert np.allclose(got["zscore"], theirs["zscore"], equal_nan=True)
    assert np.allclose(got["percentile"], theirs["percentile"], equal_nan=True)
    loop_s = statistics.mean(loop) * len(ts)
    return {"finding": FID, "instants": len(ts), "engine_s": round(engine_s, 3),
            "stored_lookup_s": round(stored_s, 4), "stored_rows": len(stored),
            "snapshot_loop_scaled_s": round(loop_s, 1), "snapshot_sample": sample,
            "snapshot_per_instant_s": round(statistics.mean(loop), 3), "pandas_s": round(pandas_s, 3),
            "ratio_loop_over_engine": round(loop_s / engine_s, 1),
            "ratio_pandas_over_engine": round(pandas_s / engine_s, 2),
            "ratio_engine_over_stored": round(engine_s / max(stored_s, 1e-6), 1)}


def bench_one_leverage(db: Path, sample: int) -> dict:
    """liquidations.total_usd for BTC+ETH, daily 2018-01-01 -> 2026-02-06 (issue 15's example: 7-19 min
    of snapshots before): the leverage area's set-based history, the stored lookup, and the loop of
    leverage snapshots on a sample of instants, scaled. The values of the sampled instants must agree."""
    fid, subject = "liquidations.total_usd", "BTC+ETH"
    ts = instants(START, END, "1d")
    with Store(db, read_only=True) as s:
        res, engine_s = timed(history.compute, s, ts, areas=("leverage",), fallback=False)
        rows = res.rows
        got = rows[(rows["id"] == fid) & (rows["subject"] == subject) & rows["window"].str.startswith("1d")]
        got = got.set_index("as_of")["value"]
        stored, stored_s = timed(materialize.read, s, [fid], ts[0], ts[-1], subject)
        picks = [ts[int(i)] for i in np.linspace(0, len(ts) - 1, sample)]
        loop = []
        for t in picks:
            fs, secs = timed(metrics.compute, s, t, areas=("leverage",))
            loop.append(secs)
            f = fs.get(fid, subject, window="1d")
            want = f.value if f is not None and f.kind != "cited" else None
            have = got.get(pd.Timestamp(t))
            assert (want is None and pd.isna(have)) or np.isclose(want, have, rtol=1e-9), (t, want, have)
    loop_s = statistics.mean(loop) * len(ts)
    return {"finding": f"{fid} {subject}", "instants": len(ts), "engine_whole_area_s": round(engine_s, 3),
            "area_rows": len(rows), "stored_lookup_s": round(stored_s, 4), "stored_rows": len(stored),
            "snapshot_per_instant_s": round(statistics.mean(loop), 3), "snapshot_sample": sample,
            "snapshot_loop_scaled_s": round(loop_s, 1), "ratio_loop_over_engine": round(loop_s / engine_s, 1),
            "ratio_engine_over_stored": round(engine_s / max(stored_s, 1e-6), 1)}


def bench_rebuild(db: Path, sample: int) -> dict:
    with Store(db) as s:
        done, total_s = timed(materialize.refresh, s, full=True)
        ts = instants(START, END, "1d")
        picks = [ts[int(i)] for i in np.linspace(0, len(ts) - 1, sample)]
        scaled = {}
        for mod in history.area_modules():
            area = history.area_name(mod)
            if history.series_first(mod):
                continue
            per = [timed(fallback.snapshot_rows, s, area, [t])[1] for t in picks]
            scaled[area] = round(statistics.mean(per) * len(ts), 1)
    return {"series_first": {a: {"instants": d["instants"], "seconds": round(d["seconds"], 2)} for a, d in done.items()},
            "series_first_total_s": round(total_s, 2), "grid_instants": max(d["instants"] for d in done.values()),
            "fallback_daily_2018_2026_scaled_s": scaled, "fallback_sample": sample,
            "fallback_total_scaled_s": round(sum(scaled.values()), 1)}


def bench_refresh(db: Path, day: dt.datetime) -> dict:
    """Cut the store at `day`, rebuild, then ingest that day's rows again and refresh."""
    tables = [t for t, spec in schema.TABLES.items() if t not in materialize.DERIVED
              and {"available_at", "ingested_at"} <= set(spec.arrow_schema().names)]
    with Store(db) as s:
        for t in tables:
            s.duck.execute(f'CREATE TEMP TABLE "held_{t}" AS SELECT * FROM "{t}" WHERE available_at >= ?', [day])
            s.duck.execute(f'DELETE FROM "{t}" WHERE available_at >= ?', [day])
        quality.refresh(s)
        materialize.refresh(s, full=True)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        added = 0
        for t in tables:
            n = s.duck.execute(f'SELECT count(*) FROM "held_{t}" WHERE available_at < ?', [day + dt.timedelta(days=1)]).fetchone()[0]
            s.duck.execute(f'INSERT INTO "{t}" SELECT * REPLACE (CAST(? AS TIMESTAMP) AS ingested_at) FROM "held_{t}" '
                           "WHERE available_at < ?", [now, day + dt.timedelta(days=1)])
            added += n
        quality.refresh(s)
        s.duck.execute("CHECKPOINT")
    before = db.with_name("before_" + db.name)
    shutil.copy(db, before)
    # Both refreshes start with an empty compile cache, as `ingest` does in a new process.
    sqlcache.CACHE.clear()
    with Store(db) as s:
        done, secs, cpu = timed_cpu(materialize.refresh, s)
    # The same refresh with each area's dependencies (the price area) recomputed per area, as before
    # the refresh shared one store state's rows between areas (history.compute's `reuse`).
    plain = history.compute
    materialize.compute = lambda *a, reuse=None, **k: plain(*a, **k)
    sqlcache.CACHE.clear()
    try:
        with Store(before) as s:
            _, secs_before, cpu_before = timed_cpu(materialize.refresh, s)
    finally:
        materialize.compute = plain
    return {"day": str(day.date()), "rows_ingested": int(added), "refresh_s": round(secs, 2),
            "refresh_cpu_s": round(cpu, 2), "refresh_without_reuse_s": round(secs_before, 2),
            "refresh_without_reuse_cpu_s": round(cpu_before, 2), "load_avg": [round(x, 1) for x in os.getloadavg()],
            "recomputed": {a: {"instants": d["instants"], "from": str(d["from"]), "seconds": round(d["seconds"], 2)}
                           for a, d in done.items()}}


def bench_instant(db: Path) -> dict:
    with Store(db, read_only=True) as s:
        _, today_s = timed(metrics.compute, s, CRASH)
        # Stored: the materialised areas (a series-first area that is not stored, such as stress, is
        # computed like the fallback areas, as `findings --as-of` would).
        series = tuple(history.area_name(m) for m in history.area_modules()
                       if history.series_first(m) and history.area_name(m) in materialize.MATERIALISED)
        fresh = materialize.fresh_areas(s)
        assert set(series) <= fresh, f"finding_history is not fresh for {set(series) - fresh}"
        on, on_s = timed(materialize.read, s, None, CRASH, CRASH)
        off_t = CRASH + dt.timedelta(minutes=30)
        off, off_s = timed(history.compute, s, [off_t], areas=series, fallback=False)
        others = tuple(history.area_name(m) for m in history.area_modules() if history.area_name(m) not in series)
        _, rest_s = timed(metrics.compute, s, CRASH, areas=("price", *others))
    return {"today_all_areas_snapshot_s": round(today_s, 3), "series_first_areas": list(series),
            "on_grid_lookup_s": round(on_s, 4), "on_grid_rows": len(on),
            "off_grid_series_first_s": round(off_s, 3), "off_grid_rows": len(off.rows),
            "fallback_areas": list(others), "fallback_areas_snapshot_s": round(rest_s, 3),
            "all_findings_on_grid_s": round(on_s + rest_s, 3), "all_findings_off_grid_s": round(off_s + rest_s, 3),
            "ratio_today_over_on_grid_series": round(today_s / max(on_s, 1e-6), 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, default=Path("/work/store/snapshot.duckdb"))
    ap.add_argument("--only", default="one,leverage,rebuild,refresh,instant")
    ap.add_argument("--sample", type=int, default=8, help="snapshot instants sampled for the loop estimates")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/history.json"))
    args = ap.parse_args()
    only = set(args.only.split(","))
    res = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        shutil.copy(args.store, db)
        with Store(db) as s:  # the copy gets the current schema and its finding_history
            res["initial_refresh"] = {a: round(d["seconds"], 2) for a, d in materialize.refresh(s).items()}
        if "one" in only:
            res["one"] = bench_one(db, args.sample)
            print(json.dumps(res["one"]), flush=True)
        if "leverage" in only:
            res["one_leverage"] = bench_one_leverage(db, args.sample)
            print(json.dumps(res["one_leverage"]), flush=True)
        if "instant" in only:
            res["instant"] = bench_instant(db)
            print(json.dumps(res["instant"]), flush=True)
        if "rebuild" in only:
            res["rebuild"] = bench_rebuild(db, max(2, args.sample // 2))
            print(json.dumps(res["rebuild"]), flush=True)
        if "refresh" in only:
            cut = Path(tmp) / "cut.duckdb"
            shutil.copy(db, cut)
            res["refresh"] = bench_refresh(cut, dt.datetime(2026, 2, 6))
            print(json.dumps(res["refresh"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2, default=str))
    print(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
