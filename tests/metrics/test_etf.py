"""ETF findings on the real snapshot (the final Farside table, vintages by the publication rule)."""

from __future__ import annotations

import pytest

from btcstress import metrics
from tests.conftest import CRASH, utc

M = 1_000_000
# When 02-05 became final: IBIT's usual publication time for it (etf_funds.csv; docs/DATA.md).
FINAL = utc(2026, 2, 6, 18, 0)


def _fs(store, t, **kw):
    return metrics.compute(store, t, areas=("etf",), **kw)


@pytest.fixture(scope="module")
def crash(snapshot_db):
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        yield metrics.compute(s, FINAL, areas=("etf",), with_series=True)


def test_as_of_feb_5_morning_the_latest_day_is_feb_4_still_without_ibit(store):
    fs = _fs(store, utc(2026, 2, 5, 8, 0))
    f = fs.get("etf.net_flow_usd")
    assert f.value == pytest.approx((-544.9 + 373.4) * M)  # final total minus IBIT's -373.4M (not yet out)
    assert f.window == "1d:2026-02-04"
    assert f.detail["date"] == "2026-02-04" and f.detail["preliminary"] is True
    assert f.detail["missing_funds"] == ["IBIT"]


def test_as_of_the_crash_morning_feb_5_is_preliminary_without_ibit(store):
    f = _fs(store, CRASH).get("etf.net_flow_usd")
    # The story's -258.8M: the final -434.1M without IBIT's -175.3M (SOURCES.md).
    assert f.value == pytest.approx((-434.1 + 175.3) * M)
    assert f.detail["date"] == "2026-02-05" and f.detail["preliminary"] is True
    assert f.detail["missing_funds"] == ["IBIT"]
    assert f.detail["vintage"] == "2026-02-06T08:00:00Z"


def test_once_ibit_reported_feb_5_is_final_with_a_three_day_streak(crash):
    f = crash.get("etf.net_flow_usd")
    assert f.subject == "US spot BTC ETFs" and f.unit == "USD"
    assert f.value == pytest.approx(-434.1 * M)
    assert f.detail["date"] == "2026-02-05"
    assert f.detail["preliminary"] is False and f.detail["missing_funds"] == []
    assert f.detail["vintage"] == "2026-02-06T18:00:00Z"
    assert f.detail["published_total_usd"] == pytest.approx(-434.1 * M)
    assert crash.value("etf.outflow_streak_days") == 3
    assert crash.value("etf.outflow_streak_usd") == pytest.approx(-1251.0 * M)
    assert crash.get("etf.outflow_streak_usd").window == "streak:2026-02-03..2026-02-05"
    # Week to date includes Monday's +561.8M inflow: the story's ">$1.07B for the week" is the streak.
    assert crash.value("etf.week_to_date_usd") == pytest.approx(-689.2 * M)
    assert crash.get("etf.week_to_date_usd").window == "wtd:2026-02-02..2026-02-05"


def test_per_fund_flows_carry_the_ticker_as_subject(crash):
    per_fund = {f.subject: f for f in crash.all("etf.flow_usd")}
    assert set(per_fund) == {"IBIT", "FBTC", "BITB", "ARKB", "BTCO", "EZBC", "BRRR", "HODL", "BTCW", "GBTC", "BTC"}
    assert per_fund["IBIT"].value == pytest.approx(-175.3 * M)
    assert per_fund["GBTC"].value == pytest.approx(-75.4 * M)
    assert per_fund["IBIT"].detail["issuer"].startswith("BlackRock")
    assert sum(f.value for f in per_fund.values()) == pytest.approx(-434.1 * M)


def test_no_look_ahead_feb_5_flows_are_not_known_before_midnight_utc(store):
    fs = _fs(store, utc(2026, 2, 5, 23, 59))
    assert fs.get("etf.net_flow_usd").detail["date"] == "2026-02-04"
    assert fs.value("etf.outflow_streak_days") == 2
    assert fs.value("etf.outflow_streak_usd") == pytest.approx(-816.9 * M)
    for f in fs:
        for s in f.sources:
            assert s.last is None or s.last.date().isoformat() <= "2026-02-04"


def test_cumulative_aum_and_holders_cost_basis(crash):
    cum = crash.get("etf.cumulative_usd")
    assert cum.value == pytest.approx(54_300.2 * M)
    assert cum.detail["trading_days"] == 519 and cum.detail["preliminary_days"] == 1  # 2024-11-20 (BTC blank)
    aum = crash.get("etf.aum_usd")
    assert aum.window == "1d:2026-02-05"
    assert aum.value == pytest.approx(81.913e9, rel=1e-4)
    assert aum.detail["by_fund"]["IBIT"] == pytest.approx(48_853_275_064.0)
    basis = crash.get("etf.holders_cost_basis_usd")
    assert basis.kind == "modelled"
    assert basis.value == pytest.approx(82_935.8, abs=1.0)
    assert basis.detail["net_btc"] == pytest.approx(654_726, abs=1)
    assert {s.table for s in basis.sources} == {"etf_flows", "candles"}


def test_holders_pnl_at_a_hypothetical_price(store):
    fs = _fs(store, FINAL, price=60_000.0)
    pnl = fs.get("etf.holders_pnl_pct")
    assert pnl.hypothetical is True and pnl.unit == "pct"
    assert pnl.value == pytest.approx((60_000 / 82_935.8 - 1) * 100, abs=0.01)  # about -27.7 %


def test_net_flow_is_scored_against_its_trailing_year(crash):
    # The z-score and percentile themselves are recomputed from the raw Farside rows in
    # test_unusual_from_raw.py; here: the base is named and the per-fund flows are scored too.
    u = crash.get("etf.net_flow_usd").unusual
    assert f"{u['n']} trading days" in u["history"] and u["calendar"] == "trading"
    assert crash.get("etf.flow_usd", "GBTC").unusual["zscore"] < -1.5


def test_before_the_first_etf_day_everything_is_not_available(store):
    fs = _fs(store, utc(2023, 6, 1))
    f = fs.get("etf.net_flow_usd")
    assert f.value is None and f.note.startswith("not available")
    assert fs.get("etf.holders_pnl_pct").value is None


def test_series_by_fund_for_30_trading_days_and_cumulative_line(crash):
    s = crash.series["etf.daily_flows_by_fund"]
    assert len(s.x) == 30 and s.x[-1] == "2026-02-05"
    assert s.extra["funds"]["IBIT"][-1] == pytest.approx(-175.3 * M)
    assert s.y[-1] == pytest.approx(-434.1 * M)
    c = crash.series["etf.cumulative_flows"]
    assert c.x[0] == "2024-01-11" and c.x[-1] == "2026-02-05"
    assert c.y[-1] == pytest.approx(crash.value("etf.cumulative_usd"))


def test_holders_pnl_at_the_observed_price(store):
    fs = metrics.compute(store, CRASH, areas=("price", "etf"))
    last = fs.get("price.last_usd")
    pnl = fs.get("etf.holders_pnl_pct")
    assert pnl.hypothetical is False and pnl.detail["price_usd"] == last.value
    basis = fs.get("etf.holders_cost_basis_usd").value  # at 08:00Z without IBIT's 02-05 redemptions
    assert pnl.value == pytest.approx((last.value / basis - 1) * 100, abs=0.01)
    assert any(s.table == "candles" and "binance" in s.origin for s in pnl.sources)
