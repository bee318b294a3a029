"""Benchmark: the price finding set over 10 years of synthetic 1-minute bars (~5.26M rows).

btcstress (Ibis expressions on DuckDB, reading the store file) against a plain pandas
implementation of the same findings over the same bars, at several as-of instants, in the same
run. The pandas baseline is timed twice: compute only (bars already in memory) and including
loading the bars from the store. Both must agree on every value before any time is reported.

Run: .venv/bin/python benchmarks/bench_price.py [--years 10] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from btcstress import metrics
from btcstress.store import Store

START = dt.datetime(2016, 1, 1)
DAY = pd.Timedelta(days=1)


def synthetic_bars(years: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Geometric Brownian motion minute bars (BTC-like volatility) and their daily aggregate."""
    n = years * 365 * 1440
    rng = np.random.default_rng(seed)
    sigma = 0.7 / np.sqrt(365 * 1440)  # ~70% annualised
    log_ret = rng.normal(0, sigma, n)
    close = 400 * np.exp(np.cumsum(log_ret))
    open_ = np.concatenate([[400.0], close[:-1]])
    wiggle = np.abs(rng.normal(0, sigma, n)) * close
    high = np.maximum(open_, close) + wiggle
    low = np.minimum(open_, close) - wiggle
    t = pd.date_range(START, periods=n, freq="min")
    minute = pd.DataFrame({"venue": "binance", "symbol": "BTCUSDT", "interval": "1m", "open_time": t, "open": open_,
                           "high": high, "low": low, "close": close, "volume": 1.0, "quote_volume": close,
                           "trades": 1, "origin": "benchmark/synthetic"})
    minute["available_at"] = minute.open_time + pd.Timedelta(minutes=1)
    g = minute.set_index("open_time").resample("1D")
    daily = pd.DataFrame({"open": g.open.first(), "high": g.high.max(), "low": g.low.min(), "close": g.close.last()})
    daily = daily.reset_index().assign(venue="cryptoquant", symbol="BTC-USD", interval="1d", volume=1.0,
                                       quote_volume=None, trades=None, origin="benchmark/synthetic-daily")
    daily["available_at"] = daily.open_time + DAY
    return minute, daily


def load(store: Store, frames: list[pd.DataFrame]) -> None:
    cols = list(store.ibis.table("candles").columns)
    for df in frames:
        df = df.assign(ingested_at=pd.Timestamp.now())[cols]
        store.duck.register("bench_rows", pa.Table.from_pandas(df, preserve_index=False))
        store.duck.execute("INSERT INTO candles SELECT * FROM bench_rows")
        store.duck.unregister("bench_rows")


# -- the baseline: the same findings in plain pandas ------------------------------------------------

def pandas_findings(c: pd.DataFrame, as_of: dt.datetime) -> dict[str, float]:
    known = c[c.available_at <= as_of]
    m = known[(known.venue == "binance") & (known.interval == "1m")].sort_values("open_time")
    w = m[m.available_at > as_of - DAY]
    last = w.iloc[-1]
    ref = m[m.available_at <= last.available_at - DAY].iloc[-1]
    drop = (w.low / w.high.cummax() - 1).min()
    d = known[known.venue == "cryptoquant"].sort_values("open_time")
    day = d.iloc[-1]
    ath = max(d.high.max(), m[m.open_time >= d.available_at.max()].high.max())
    start = pd.Timestamp((as_of - DAY).date())
    hits = d[(d.open_time < start) & (d.low <= w.low.min())]
    return {"price.last_usd": last.close, "price.low_24h_usd": w.low.min(), "price.high_24h_usd": w.high.max(),
            "price.change_24h_pct": (last.close / ref.close - 1) * 100, "price.max_drop_24h_pct": drop * 100,
            "price.close_usd": day.close, "price.change_1d_pct": (day.close / d.iloc[-2].close - 1) * 100,
            "price.ath_usd": ath, "price.drawdown_from_ath_pct": (last.close / ath - 1) * 100,
            "price.lowest_since_date": str(hits.open_time.iloc[-1].date()) if len(hits) else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/price.json"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    minute, daily = synthetic_bars(args.years)
    gen_s = time.perf_counter() - t0
    end = minute.open_time.iloc[-1].to_pydatetime()
    instants = [end - dt.timedelta(days=k * 365 + 0.37) for k in range(args.repeat)]

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        t0 = time.perf_counter()
        with Store(db) as store:
            load(store, [minute, daily])
        load_s = time.perf_counter() - t0
        del minute, daily

        with Store(db, read_only=True) as store:
            ours, theirs, theirs_total, loaded = [], [], [], None
            for t in instants:
                a = time.perf_counter()
                fs = metrics.compute(store, t.replace(tzinfo=dt.timezone.utc), areas=("price",))
                ours.append(time.perf_counter() - a)

                a = time.perf_counter()
                frame = store.ibis.table("candles").to_pandas()  # the baseline's own load, timed
                load_t = time.perf_counter() - a
                a = time.perf_counter()
                expected = pandas_findings(frame, t)
                compute_t = time.perf_counter() - a
                theirs.append(compute_t)
                theirs_total.append(load_t + compute_t)
                loaded = len(frame)
                del frame
                for fid, v in expected.items():
                    got = fs.value(fid)
                    assert (got == v) if isinstance(v, str) or v is None else abs(got - v) <= 1e-9 * max(1, abs(v)), \
                        (fid, got, v)

    res = {
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}, python {sys.version.split()[0]}",
        "rows": loaded, "years": args.years, "instants": len(instants), "generate_s": round(gen_s, 2),
        "load_into_store_s": round(load_s, 2),
        "btcstress_median_s": round(statistics.median(ours), 4),
        "pandas_compute_median_s": round(statistics.median(theirs), 4),
        "pandas_load_plus_compute_median_s": round(statistics.median(theirs_total), 4),
    }
    res["ratio_vs_pandas_compute"] = round(res["pandas_compute_median_s"] / res["btcstress_median_s"], 2)
    res["ratio_vs_pandas_load_plus_compute"] = round(res["pandas_load_plus_compute_median_s"] / res["btcstress_median_s"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
