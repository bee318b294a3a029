"""Publication times (docs/DATA.md, "Publication times"): CryptoQuant's daily rows and what depends on them.

CryptoQuant does not document when a day's row is served; the conservative time taken is D+1 07:00
UTC (docs/DATA.md, "CryptoQuant's publication time"). Every CryptoQuant importer stamps it, `--date D`
and the history grid's day instants mean it, and the story's 2026-02-06T08:00Z brief, written an hour
after it, is the same as under the old D+1 00:00 rule, value for value.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil

import pytest

from tests.conftest import CRASH

OLD_RULE_SHIFT = dt.timedelta(hours=7)  # back from D+1 07:00 to the old D+1 00:00


def _key(f):
    return (f.id, f.subject, f.window, f.kind)


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return a == b


def test_every_cryptoquant_row_counts_from_7_utc_the_next_day_and_nothing_else_moved(snapshot_db):
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        q = s.duck.execute
        # The composite bar of the crash day, 2026-02-05: public at 2026-02-06 07:00, by hand.
        assert q("SELECT available_at FROM candles WHERE venue = 'cryptoquant' AND open_time = '2026-02-05'"
                 ).fetchone()[0] == dt.datetime(2026, 2, 6, 7, 0)
        assert q("SELECT count(*) FROM candles WHERE venue = 'cryptoquant' AND available_at <> open_time + "
                 "INTERVAL 31 HOUR").fetchone()[0] == 0
        for table in ("network_daily", "miner_flows_daily", "liquidations_daily", "derivatives_daily",
                      "market_cap_daily", "indicators_daily"):
            n_cq, off = q(f"SELECT count(*), count(*) FILTER (WHERE available_at <> date + INTERVAL 31 HOUR) "
                          f"FROM {table} WHERE origin LIKE '%cryptoquant%'").fetchone()
            assert n_cq > 1000 and off == 0, table
        # Binance bars still count from their close, TradingView's daily bars from the next 00:00.
        assert q("SELECT count(*) FROM candles WHERE venue LIKE 'binance%' AND available_at <> open_time + "
                 "INTERVAL 1 HOUR").fetchone()[0] == 0
        assert q("SELECT count(*) FROM market_cap_daily WHERE origin LIKE '%tradingview%' AND available_at <> "
                 "date + INTERVAL 1 DAY").fetchone()[0] == 0


def test_date_d_and_the_grid_mean_the_instant_d_is_published():
    from btcstress import config
    from btcstress.history.calendar import instants, on_grid
    assert config.end_of_day("2026-02-05") == dt.datetime(2026, 2, 6, 7, tzinfo=dt.timezone.utc)
    assert config.parse_instant("2026-02-05") == dt.datetime(2026, 2, 6, 7, tzinfo=dt.timezone.utc)
    # --every 1d from any instant lands on the next 07:00 (an instant already at 07:00 stays).
    assert instants(dt.datetime(2023, 6, 21, 12), dt.datetime(2023, 6, 24, 7), "1d") == [
        dt.datetime(2023, 6, 22, 7), dt.datetime(2023, 6, 23, 7), dt.datetime(2023, 6, 24, 7)]
    assert instants(dt.datetime(2023, 6, 21, 3), dt.datetime(2023, 6, 21, 7), "1d") == [dt.datetime(2023, 6, 21, 7)]
    assert on_grid(dt.datetime(2020, 3, 13, 7), None) and not on_grid(dt.datetime(2020, 3, 13), None)


def test_the_crash_brief_is_the_same_as_under_the_old_midnight_rule(snapshot_db, tmp_path):
    from btcstress import metrics, schema
    from btcstress.store import Store
    old = tmp_path / "old.duckdb"
    shutil.copy(snapshot_db, old)
    with Store(old) as s:
        shifted = 0
        for name in schema.TABLES:
            if name == "quality" or "origin" not in [c[0] for c in s.duck.execute(f'DESCRIBE "{name}"').fetchall()]:
                continue
            n = s.duck.execute(f"""UPDATE "{name}" SET available_at = available_at - INTERVAL {OLD_RULE_SHIFT.seconds} SECOND
                                  WHERE origin LIKE '%cryptoquant%'""").fetchone()[0]
            shifted += n
        assert shifted > 10_000  # every CryptoQuant file was moved (price, network, miners, derivatives, caps)
        before = {_key(f): f for f in metrics.compute(s, CRASH)}
    with Store(snapshot_db, read_only=True) as s:
        now = {_key(f): f for f in metrics.compute(s, CRASH)}
    assert now.keys() == before.keys()
    diffs = [k for k in now if not _same(now[k].value, before[k].value)]
    assert diffs == []
    # The day the brief describes is still 2026-02-05 for the CryptoQuant composite.
    assert ("price.close_usd", "BTC", "1d:2026-02-05", "computed") in now
