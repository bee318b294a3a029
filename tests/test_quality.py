"""Data-quality rules (src/btcstress/quality): each on hand-made rows, then on the real snapshot."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest

from btcstress.config import end_of_day
from btcstress.quality import rules
from btcstress.store import Store

DAY = dt.timedelta(days=1)
START = dt.datetime(2023, 1, 1)


def _candles(rows, venue="cryptoquant", symbol="BTC-USD", interval="1d"):
    return pa.table({
        "venue": [venue] * len(rows), "symbol": [symbol] * len(rows), "interval": [interval] * len(rows),
        "open_time": [r[0] for r in rows], "open": [r[1] for r in rows], "high": [r[2] for r in rows],
        "low": [r[3] for r in rows], "close": [r[4] for r in rows], "origin": ["test"] * len(rows)})


def _calm(n, start=START, price=100.0, spread=0.02, step=0.003):
    """n calm days: the close alternates +-step, the range is `spread` around the close."""
    rows, close = [], price
    for i in range(n):
        o = close
        close = o * (1 + (step if i % 2 else -step))
        rows.append([start + i * DAY, o, max(o, close) * (1 + spread / 2), min(o, close) * (1 - spread / 2), close])
    return rows


@pytest.fixture()
def tmp_store(tmp_path):
    with Store(tmp_path / "q.duckdb") as s:
        yield s


def _flags(store, rule=None):
    return [f for f in rules.compute(store) if rule is None or f.rule == rule]


def test_wick_far_beyond_every_nearby_close_is_flagged_with_what_it_was_compared_to(tmp_store):
    rows = _calm(60)
    rows[45][2] = rows[45][4] * 1.9  # a high 90% above its close: nothing around supports it
    tmp_store.upsert("candles", _candles(rows))
    flags = _flags(tmp_store, "wick_unsupported")
    assert [(f.ts, f.field) for f in flags] == [(rows[45][0], "high")]
    f = flags[0]
    assert f.value == pytest.approx(rows[45][2])
    # The supporting level is the highest of the day's open/close and the 3 closes before.
    support = max(rows[45][1], rows[45][4], *(rows[45 - k][4] for k in (1, 2, 3)))
    assert f"{support:,.2f}" in f.compared
    assert f.available_at == rows[45][0] + DAY  # known when the bar closed, not before


def test_a_real_crash_wick_supported_by_its_closes_is_not_flagged(tmp_store):
    rows = _calm(60)
    o = rows[44][4]
    # A crash day: -15% close, low 5% under it; the next day rebounds. The low's excess over the
    # day's own close is 5%, ~2.5 x the usual 2% range: far below the 8 x limit.
    rows[45] = [rows[45][0], o, o * 1.01, o * 0.85 * 0.95, o * 0.85]
    rows[46] = [rows[46][0], o * 0.85, o * 0.97, o * 0.84, o * 0.95]
    tmp_store.upsert("candles", _candles(rows))
    assert _flags(tmp_store, "wick_unsupported") == []


def _supply_and_cap(rows, scope, factor_by_day=None, supply=19_000_000.0):
    dates = [r[0].date() for r in rows]
    caps = [r[4] * supply * (factor_by_day or {}).get(i, 1.0) for i, r in enumerate(rows)]
    net = pa.table({"date": dates, "metric": ["supply_btc"] * len(rows), "value": [supply] * len(rows),
                    "origin": ["test-supply"] * len(rows)})
    cap = pa.table({"date": dates, "scope": [scope] * len(rows), "cap_usd": caps, "origin": ["test-cap"] * len(rows)})
    return net, cap


def test_close_disagreeing_with_market_cap_over_supply_is_flagged(tmp_store):
    rows = _calm(60)
    net, cap = _supply_and_cap(rows, "btc_implied", {50: 1.04})  # the other source says 4% higher on day 50
    tmp_store.upsert("candles", _candles(rows))
    tmp_store.upsert("network_daily", net)
    tmp_store.upsert("market_cap_daily", cap)
    flags = _flags(tmp_store, "close_cross_source")
    assert [(f.ts, f.field) for f in flags] == [(rows[50][0], "close")]
    implied = rows[50][4] * 1.04
    assert f"{implied:,.2f}" in flags[0].compared
    assert f"{math.log(1 / 1.04):+.1%}" in flags[0].reason


def test_a_frozen_reference_gives_no_verdict(tmp_store):
    rows = _calm(60)
    factors = {i: rows[49][4] / rows[i][4] for i in (50, 51)}  # the reference repeats day 49's value
    factors[51] = factors[51] * 1.0001
    net, cap = _supply_and_cap(rows, "btc_implied", factors)
    # Make the gap big enough to matter: move the composite's close on day 51 by 3%.
    rows[51][4] *= 1.03
    rows[51][2] = max(rows[51][2], rows[51][4])
    tmp_store.upsert("candles", _candles(rows))
    tmp_store.upsert("network_daily", net)
    tmp_store.upsert("market_cap_daily", cap)
    flagged = {f.ts for f in _flags(tmp_store, "close_cross_source")}
    assert rows[51][0] not in flagged  # the reference moved < 0.05%: stale, no verdict
    assert rows[50][0] in flagged or abs(rows[50][4] / rows[49][4] - 1) < 0.015


def test_high_and_low_checked_against_binance_hourly_bars(tmp_store):
    rows = _calm(10, start=dt.datetime(2025, 1, 1))
    rows[5][3] = rows[5][4] * 0.95  # a composite low 5% under its close
    tmp_store.upsert("candles", _candles(rows))
    day = rows[5][0]
    hourly = [[day + h * dt.timedelta(hours=1), rows[5][1], rows[5][2], rows[5][4] * 0.99, rows[5][4]]
              for h in range(24)]
    tmp_store.upsert("candles", _candles(hourly, venue="binance-usdm", symbol="BTCUSDT", interval="1h"))
    flags = _flags(tmp_store, "vs_hourly_bars")
    assert [(f.ts, f.field) for f in flags] == [(day, "low")]
    assert flags[0].available_at == day + DAY  # the later of the daily bar and the last hourly bar
    # 23 hourly bars are not a day: no verdict.
    tmp_store.duck.execute("DELETE FROM candles WHERE interval = '1h' AND open_time = ?", [day])
    assert _flags(tmp_store, "vs_hourly_bars") == []


def test_wide_unexplained_ranges_in_a_stretch_of_failures_are_flagged(tmp_store):
    rows = _calm(140)
    net, cap = _supply_and_cap(rows, "btc_implied", {120: 1.03, 123: 0.97, 126: 1.03})
    rows[130][2], rows[130][3] = rows[130][4] * 1.04, rows[130][4] * 0.96  # 8% range, 0.3% move
    rows[100][2], rows[100][3] = rows[100][4] * 1.04, rows[100][4] * 0.96  # same range, no stretch
    tmp_store.upsert("candles", _candles(rows))
    tmp_store.upsert("network_daily", net)
    tmp_store.upsert("market_cap_daily", cap)
    flags = _flags(tmp_store, "range_in_suspect_stretch")
    assert sorted({(f.ts, f.field) for f in flags}) == [(rows[130][0], "high"), (rows[130][0], "low")]
    assert all(f.available_at == rows[130][0] + DAY for f in flags)


def test_refresh_replaces_the_table_and_ingest_runs_it(tmp_store):
    rows = _calm(60)
    rows[45][2] = rows[45][4] * 1.9
    from btcstress import ingest
    from btcstress.parsers.common import Parsed
    parsed = Parsed(origin="test")
    for r in _candles(rows).to_pylist():
        parsed.add("candles", r)
    report = ingest.run(tmp_store, [(None, "test", parsed)])
    assert report.flags == 1
    assert tmp_store.duck.execute("SELECT count(*) FROM quality").fetchone()[0] == 1
    tmp_store.duck.execute("UPDATE candles SET high = ? WHERE open_time = ?", [rows[45][4] * 1.01, rows[45][0]])
    assert rules.refresh(tmp_store) == 0
    assert tmp_store.duck.execute("SELECT count(*) FROM quality").fetchone()[0] == 0


# -- the real snapshot ---------------------------------------------------------------------------

def _flagged_days(store):
    return store.duck.execute("SELECT CAST(ts AS DATE), field, rule FROM quality").fetchall()


def test_snapshot_mid_2023_stretch_is_caught(store):
    rows = _flagged_days(store)
    by_day = {}
    for d, field, rule in rows:
        by_day.setdefault(str(d), set()).add(field)
    assert "high" in by_day["2023-06-21"]
    assert {"high", "low"} <= by_day["2023-07-15"]


@pytest.mark.parametrize("day", ["2020-03-12", "2020-03-13", "2021-05-19", "2022-06-13", "2022-11-09",
                                 "2024-08-05", "2026-02-05", "2026-02-06"])
def test_snapshot_real_crash_days_are_not_flagged(store, day):
    assert [r for r in _flagged_days(store) if str(r[0]) == day] == []


def test_brief_tells_the_real_small_moves_of_the_corrupt_days(store):
    from btcstress.metrics import compute
    for day, close_move in (("2023-06-21", None), ("2023-07-15", None)):
        t = end_of_day(day).replace(tzinfo=None)  # --date D: the instant D's daily rows are published
        fs = compute(store, t)
        assert fs.get("price.max_drop_24h_pct").value is None  # high/low suspect, no clean source
        assert "suspect" in fs.get("price.max_drop_24h_pct").note
        # The close-to-close move is derived here from the raw closes, which agree with market cap / supply.
        closes = store.duck.execute(
            "SELECT close FROM candles WHERE venue='cryptoquant' AND open_time IN (?, ?) ORDER BY open_time",
            [dt.datetime.fromisoformat(day) - DAY, dt.datetime.fromisoformat(day)]).fetchall()
        assert fs.value("price.change_1d_pct") == pytest.approx((closes[1][0] / closes[0][0] - 1) * 100)
        assert abs(fs.value("price.change_1d_pct")) < 7


def test_quality_command_lists_the_flags_and_refuses_an_unknown_rule(snapshot_db):
    import json

    from typer.testing import CliRunner

    from btcstress.cli import app
    r = CliRunner().invoke(app, ["--db", str(snapshot_db), "quality", "--since", "2023-06-21", "--until",
                                 "2023-06-21", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [(x["field"], x["rule"]) for x in rows] == [("high", "wick_unsupported")]
    assert rows[0]["value"] > 50_000 and "nearest supporting open/close" in rows[0]["compared"]
    bad = CliRunner().invoke(app, ["--db", str(snapshot_db), "quality", "--rule", "nope"])
    assert bad.exit_code == 2 and "unknown rule" in bad.output


def test_close_checked_against_live_binance_daily_klines(tmp_store):
    rows = _calm(10, start=dt.datetime(2026, 3, 1))
    tmp_store.upsert("candles", _candles(rows))
    kline = [list(r) for r in rows]
    kline[4][4] = rows[4][4] * 1.02  # Binance's daily close 2% above the composite's on day 4
    kline[4][2] = max(kline[4][2], kline[4][4])
    tmp_store.upsert("candles", _candles(kline, venue="binance", symbol="BTCUSDT", interval="1d"))
    flags = _flags(tmp_store, "close_vs_daily_kline")
    assert [(f.ts, f.field) for f in flags] == [(rows[4][0], "close")]
    assert f"{kline[4][4]:,.2f}" in flags[0].compared
