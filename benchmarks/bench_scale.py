"""Benchmark: the price and liquidation findings at 1x, 10x (and, where the machine allows, 100x) the
real history's size, on DuckDB (the store file) and on Spark local (the Parquet warehouse), with time
and peak memory per size.

1x is the real history restated at the finest grain btcstress stores:
- 1-minute BTCUSDT bars from the Binance spot listing (2017-08-17) to the crash moment
  (2026-02-06T08:00Z): 4,457,280 bars, plus their daily aggregate as the composite series;
- liquidation events over the same span, one in each minute at a random second, spread over the three
  recorded venues (binance-usdm, bybit, okx): 4,457,280 events. The rate is an assumption (the
  snapshot has no event history): it is of the order of the all-venue BTC streams on a busy day,
  above a quiet one. Nx repeats the span N times back in time (N x the rows, same density).

Per size: build the store (tables created without the upsert's primary key: the key index is an
ingest cost, not a read cost), export it with `btcstress export parquet`'s code, then in a separate
process per engine compute `metrics.compute(store, T, areas=("price", "leverage"))` at several
instants (a year apart, ending at the crash moment). Reported: the first compute (cold: for Spark
this reads the Parquet and fills the cache) and the median of the others (warm), and the peak resident
memory of the engine's whole process tree (Python + the Spark JVM), sampled every 0.1 s. The findings
of both engines must agree (1e-9 relative) before any time is reported.

With --history-days N, each engine also computes the history engine's price and leverage areas
(series-first, set-based) at the last N day ends before the crash and the crash moment; the rows
(every numeric value) must agree between the engines too.

Run: .venv/bin/python benchmarks/bench_scale.py --sizes 1,10 [--instants 3] [--history-days 7] [--workdir /tmp/bench]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

END = dt.datetime(2026, 2, 6, 8, 0)  # the crash moment: the synthetic history ends here
LISTING = dt.datetime(2017, 8, 17)  # Binance BTCUSDT spot listing: the real 1-minute history starts here
SPAN_DAYS = (END.date() - LISTING.date()).days  # 3,095 whole days, plus the last 8 hours
MINUTES_1X = SPAN_DAYS * 1440 + 8 * 60  # 4,457,280 minutes
VENUES = np.array(["binance-usdm", "bybit", "okx"])
CHUNK_DAYS = 2000  # ~2.9M minutes per generated chunk


# -- data -----------------------------------------------------------------------------------------

def days_for(size: int) -> tuple[dt.datetime, int]:
    """(first minute, number of minutes) of an Nx history ending at END."""
    minutes = size * MINUTES_1X
    start = END - dt.timedelta(minutes=minutes)
    return start, minutes


def build_store(db: Path, size: int, seed: int = 7) -> dict:
    """Synthetic bars and events straight into a DuckDB file with the canonical tables."""
    import duckdb

    from btcstress.schema import TABLES
    from btcstress.store import _DUCK_TYPES, Store

    con = duckdb.connect(str(db))
    for name in ("candles", "liquidations"):  # the canonical columns, without the primary key
        cols = ", ".join(f'"{f.name}" {_DUCK_TYPES[f.type]}' for f in TABLES[name].arrow_schema())
        con.execute(f'CREATE TABLE "{name}" ({cols})')
    con.close()
    with Store(db):  # creates the other canonical tables (empty)
        pass
    con = duckdb.connect(str(db))
    rng = np.random.default_rng(seed)
    sigma = 0.7 / math.sqrt(365 * 1440)
    start, minutes = days_for(size)
    level = math.log(400.0)
    now = np.datetime64(dt.datetime.now(), "us")
    done, t0 = 0, time.perf_counter()
    first_day = np.datetime64(start.replace(hour=0, minute=0), "D")
    # Chunks of whole days so the daily composite is aggregated within a chunk.
    while done < minutes:
        chunk_start = np.datetime64(start, "m") + done
        day_end = (chunk_start.astype("datetime64[D]") + CHUNK_DAYS).astype("datetime64[m]")
        n = int(min(minutes - done, (day_end - chunk_start).astype(int)))
        t = chunk_start + np.arange(n).astype("timedelta64[m]")
        log_close = level + np.cumsum(rng.normal(0, sigma, n))
        close = np.exp(log_close)
        open_ = np.exp(np.concatenate([[level], log_close[:-1]]))
        level = float(log_close[-1])
        wiggle = np.abs(rng.normal(0, sigma, n)) * close
        high, low = np.maximum(open_, close) + wiggle, np.minimum(open_, close) - wiggle
        ts = t.astype("datetime64[us]")
        bars = pa.table({
            "venue": pa.array(["binance"] * n), "symbol": pa.array(["BTCUSDT"] * n), "interval": pa.array(["1m"] * n),
            "open_time": ts, "open": open_, "high": high, "low": low, "close": close,
            "volume": np.ones(n), "quote_volume": close, "trades": np.ones(n, dtype=np.int64),
            "origin": pa.array(["benchmark/synthetic-1m"] * n),
            "available_at": ts + np.timedelta64(1, "m"), "ingested_at": np.full(n, now)})
        con.register("chunk", bars)
        con.execute("INSERT INTO candles SELECT * FROM chunk")
        # The daily composite: one bar per UTC day of this chunk (a partial last day is left out, so
        # the composite holds only complete days, as CryptoQuant's does).
        con.execute("""
            INSERT INTO candles
            SELECT 'cryptoquant', 'BTC-USD', '1d', date_trunc('day', open_time) AS d, arg_min(open, open_time),
                   max(high), min(low), arg_max(close, open_time), 1.0, NULL, NULL, 'benchmark/synthetic-1d',
                   date_trunc('day', open_time) + INTERVAL 1 DAY, any_value(ingested_at)
            FROM chunk GROUP BY d HAVING count(*) = 1440""")
        con.unregister("chunk")
        # Liquidation events: one per minute at a random instant within it.
        offs = rng.integers(0, 60_000_000, n).astype("timedelta64[us]")
        ev_ts = ts + offs
        qty = rng.lognormal(-2.5, 1.5, n)
        price = close * (1 + rng.normal(0, 0.0005, n))
        ids = np.char.add("s", (np.arange(done, done + n)).astype(str))
        events = pa.table({
            "venue": VENUES[rng.integers(0, 3, n)], "symbol": pa.array(["BTCUSDT"] * n), "ts": ev_ts, "id": ids,
            "asset": pa.array(["BTC"] * n), "side": np.where(rng.random(n) < 0.6, "long", "short"),
            "price": price, "qty": qty, "usd": price * qty, "raw_id": pa.nulls(n, pa.string()),
            "origin": pa.array(["benchmark/synthetic-liquidations"] * n),
            "available_at": ev_ts + np.timedelta64(50, "ms"), "ingested_at": np.full(n, now)})
        con.register("chunk", events)
        con.execute("INSERT INTO liquidations SELECT * FROM chunk")
        con.unregister("chunk")
        done += n
        del bars, events
    rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("candles", "liquidations")}
    con.execute("CHECKPOINT")
    con.close()
    assert first_day <= np.datetime64(END, "D")
    return {"rows": rows, "build_s": round(time.perf_counter() - t0, 1)}


def instants(k: int, size: int) -> list[dt.datetime]:
    """k instants a year apart ending at END (within the history of every size)."""
    return [(END - dt.timedelta(days=365 * i)).replace(tzinfo=dt.timezone.utc) for i in range(k)]


# -- one engine, in its own process ---------------------------------------------------------------

def measure(engine: str, db: Path, warehouse: Path, k: int, size: int, master: str, driver_memory: str,
            history_days: int = 0) -> dict:
    from btcstress import backends, metrics
    from btcstress.store import Store

    t0 = time.perf_counter()
    if engine == "duckdb":
        store = Store(db, read_only=True)
    else:
        session = backends.spark_session(master, {"spark.driver.memory": driver_memory,
                                                   "spark.sql.shuffle.partitions": "4"}, app="btcstress-bench")
        store = backends.SparkStore(warehouse, session=session)
    open_s = time.perf_counter() - t0
    times, values = [], []
    for t in instants(k, size):
        a = time.perf_counter()
        fs = metrics.compute(store, t, areas=("price", "leverage"))
        times.append(time.perf_counter() - a)
        values.append({f"{f.id}|{f.subject}|{f.window}": f.value for f in fs
                       if f.kind == "computed" and f.value is not None})
    hist = {}
    if history_days:
        # The history engine: the price and leverage areas (series-first) at each day's end of the last
        # `history_days` days before the crash plus the crash moment, set-based, on this engine.
        from btcstress import history
        end = END.replace(tzinfo=None)
        ts = [end.replace(hour=0) - dt.timedelta(days=i) for i in range(history_days)][::-1] + [end]
        a = time.perf_counter()
        rows = history.compute(store, ts, areas=("price", "leverage"), fallback=False).rows
        hist = {"history_s": round(time.perf_counter() - a, 2), "history_instants": len(ts), "history_rows": len(rows)}
        values.append({f"{r.as_of}|{r.id}|{r.subject}|{r.window}": float(r.value) for r in rows.itertuples()
                       if r.value == r.value})
    store.close()
    if engine == "spark":
        session.stop()
    return {"open_s": round(open_s, 2), "cold_s": round(times[0], 2),
            "warm_median_s": round(statistics.median(times[1:]), 2) if len(times) > 1 else None,
            "times_s": [round(x, 2) for x in times], **hist, "values": values}


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_measured(args: list[str]) -> tuple[dict, int, float]:
    """Run this script in --measure mode; return its JSON, the peak RSS of its tree and wall time."""
    a = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    peak = [0]

    def poll():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.1)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out, _ = proc.communicate()
    th.join()
    if proc.returncode != 0:
        raise RuntimeError(f"measure {args} failed with exit {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1]), peak[0], time.perf_counter() - a


def same(a: dict, b: dict) -> list[str]:
    bad = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if isinstance(x, float) and isinstance(y, float):
            if abs(x - y) > 1e-9 * max(abs(x), abs(y), 1e-300):
                bad.append(f"{k}: {x} != {y}")
        elif x != y:
            bad.append(f"{k}: {x!r} != {y!r}")
    return bad


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,10")
    ap.add_argument("--instants", type=int, default=3)
    ap.add_argument("--history-days", type=int, default=0,
                    help="also time the history engine (price + leverage) over this many day ends")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="8g")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/scale.json"))
    ap.add_argument("--measure", choices=("duckdb", "spark"), help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.measure:
        res = measure(args.measure, args.db, args.warehouse, args.instants, args.size, args.master, args.driver_memory,
                      args.history_days)
        print(json.dumps(res, default=str))
        return

    from btcstress import backends
    from btcstress.store import Store

    work = args.workdir or Path(tempfile.mkdtemp(prefix="btcstress-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        d = work / f"x{size}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        db, wh = d / "store.duckdb", d / "warehouse"
        built = build_store(db, size)
        a = time.perf_counter()
        with Store(db, read_only=True) as s:
            backends.export_parquet(s, wh)
        export_s = time.perf_counter() - a
        row = {"size": f"{size}x", "bars": built["rows"]["candles"], "events": built["rows"]["liquidations"],
               "build_s": built["build_s"], "export_s": round(export_s, 1),
               "duckdb_file_gib": round(du(db) / 2**30, 2), "parquet_gib": round(du(wh) / 2**30, 2)}
        common = ["--db", str(db), "--warehouse", str(wh), "--instants", str(args.instants), "--size", str(size),
                  "--master", args.master, "--driver-memory", args.driver_memory,
                  "--history-days", str(args.history_days)]
        for engine in ("duckdb", "spark"):
            res, peak, wall = run_measured(["--measure", engine, *common])
            row[engine] = {k: v for k, v in res.items() if k != "values"} | {
                "peak_rss_gib": round(peak / 2**30, 2), "process_wall_s": round(wall, 1)}
            row[f"_{engine}_values"] = res["values"]
        for i, (x, y) in enumerate(zip(row.pop("_duckdb_values"), row.pop("_spark_values"))):
            bad = same(x, y)
            assert not bad and len(x) > 10, (size, i, bad[:5])
        row["findings_equal"] = True
        print(json.dumps(row), flush=True)
        results.append(row)
        shutil.rmtree(d, ignore_errors=True)
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                      f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, "
                      f"python {sys.version.split()[0]}",
           "master": args.master, "driver_memory": args.driver_memory, "instants": args.instants,
           "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
