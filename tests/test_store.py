"""The store: idempotent upserts by natural key, as-of reads, and all-or-nothing ingest runs."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pytest

from btcstress.store import Store, interval_length
from tests.conftest import snapshot_subset


def _caps(rows):
    return pa.table({"date": [dt.date.fromisoformat(d) for d, _ in rows], "scope": ["total"] * len(rows),
                     "cap_usd": [v for _, v in rows], "origin": ["test"] * len(rows)})


def test_upsert_counts_new_updated_unchanged(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        r1 = s.upsert("market_cap_daily", _caps([("2026-02-04", 2.0e12), ("2026-02-05", 1.9e12)]))
        r2 = s.upsert("market_cap_daily", _caps([("2026-02-04", 2.0e12), ("2026-02-05", 1.8e12), ("2026-02-06", 1.7e12)]))
        assert (r1.new, r1.updated, r1.unchanged) == (2, 0, 0)
        assert (r2.new, r2.updated, r2.unchanged) == (1, 1, 1)
        assert s.counts()["market_cap_daily"] == 3
        assert s.table("market_cap_daily").filter(lambda t: t.date == dt.date(2026, 2, 5)).cap_usd.execute()[0] == 1.8e12


def test_daily_rows_are_published_at_the_end_of_their_day(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert("market_cap_daily", _caps([("2026-02-05", 1.9e12)]))
        before = s.table("market_cap_daily", dt.datetime(2026, 2, 5, 23, 59, tzinfo=dt.timezone.utc)).count().execute()
        at = s.table("market_cap_daily", dt.datetime(2026, 2, 6, 0, 0, tzinfo=dt.timezone.utc)).count().execute()
        assert (before, at) == (0, 1)


def test_bars_are_published_at_their_close(tmp_path):
    bar = pa.table({"venue": ["binance"], "symbol": ["BTCUSDT"], "interval": ["1h"],
                    "open_time": [dt.datetime(2026, 2, 6, 0)], "open": [62000.0], "high": [63000.0], "low": [60000.0],
                    "close": [62500.0], "origin": ["test"]})
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert("candles", bar)
        assert s.table("candles", dt.datetime(2026, 2, 6, 0, 59)).count().execute() == 0
        assert s.table("candles", dt.datetime(2026, 2, 6, 1, 0)).count().execute() == 1
    assert interval_length("4h") == dt.timedelta(hours=4)


def test_partial_column_upsert_leaves_other_columns(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert("indicators_daily", pa.table({"date": [dt.date(2026, 2, 6)], "name": ["fear_greed"], "value": [9.0],
                                                "label": ["Extreme Fear"], "origin": ["t"]}))
        r = s.upsert("indicators_daily", pa.table({"date": [dt.date(2026, 2, 6)], "name": ["fear_greed"],
                                                    "value": [10.0], "origin": ["t"]}))
        row = s.table("indicators_daily").execute().iloc[0]
        assert r.updated == 1 and row.value == 10.0 and row.label == "Extreme Fear"


def test_a_failed_transaction_leaves_nothing(tmp_path):
    with Store(tmp_path / "s.duckdb") as s:
        with pytest.raises(RuntimeError):
            with s.transaction():
                s.upsert("market_cap_daily", _caps([("2026-02-05", 1.9e12)]))
                raise RuntimeError("crash")
        assert s.counts()["market_cap_daily"] == 0


def _cli(db, *args, env=None):
    return subprocess.Popen([sys.executable, "-m", "btcstress.cli", "--db", str(db), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_sigkill_mid_run_leaves_the_store_as_before_then_a_rerun_completes(tmp_path, snapshot_dir):
    db = tmp_path / "kill.duckdb"
    small = snapshot_subset(tmp_path, ["price/binance_spot_btcusdt_1h_2026-01_2026-02.csv"])
    assert _cli(db, "ingest", "snapshot", str(small)).wait(timeout=120) == 0
    with Store(db, read_only=True) as s:
        before = s.counts()

    # Pause inside the transaction after the 4th file, then SIGKILL the process. With -v the ingest logs
    # one line per file once it is written (inside the transaction); the 4th is followed by the pause.
    # Seven files of five sources (not the whole snapshot: the rerun below is a complete ingest of them,
    # and the whole snapshot's ingest is the session store's, tests/conftest.py).
    run = snapshot_subset(tmp_path / "run", ["etf/artemis_crypto_etf_flows_weekly.csv",
                                             "etf/farside_btc_etf_flows_daily.csv",
                                             "liquidations/cryptoquant_btc_funding_rates_daily.csv",
                                             "marketcap/cryptoquant_btc_market_cap_daily.csv",
                                             "miners/published_production_cost_estimates.csv",
                                             "price/binance_spot_btcusdt_1h_2026-01_2026-02.csv",
                                             "price/cryptoquant_btc_usd_ohlcv_daily.csv"])
    env = {**os.environ, "BTCSTRESS_TEST_PAUSE_AFTER_FILE": "4:60"}
    p = subprocess.Popen([sys.executable, "-m", "btcstress.cli", "-v", "--db", str(db), "ingest", "snapshot",
                          str(run), "--allow-quarantine"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = 0
    deadline = time.time() + 120
    while seen < 4 and time.time() < deadline:
        line = p.stderr.readline()
        if not line and p.poll() is not None:
            break
        if " rows in -> " in line:
            seen += 1
    assert seen == 4, "the ingest never logged its 4th file"
    time.sleep(1)  # well inside the 60 s pause
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    with Store(db, read_only=True) as s:
        assert s.counts() == before, "a killed run must leave the store exactly as it was"

    assert _cli(db, "ingest", "snapshot", str(run), "--allow-quarantine").wait(timeout=300) == 0
    with Store(db, read_only=True) as s:
        after = s.counts()
    assert after["candles"] > before["candles"] and after["market_cap_daily"] > 0
