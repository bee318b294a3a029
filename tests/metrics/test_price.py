"""Price findings on the real snapshot, at the crash and elsewhere; no look-ahead."""

from __future__ import annotations

import datetime as dt

import pytest

from btcstress import metrics
from btcstress.errors import NoDataError
from tests.conftest import CRASH, utc


@pytest.fixture()
def crash(crash_findings):
    return crash_findings  # every finding at the crash, computed once per session (tests/conftest.py)


def test_trailing_24h_low_is_binance_spot_60000(crash):
    low = crash.get("price.low_24h_usd")
    assert low.value == 60000.00
    assert "binance_spot" in low.sources[0].origin and low.sources[0].rows == 24
    assert low.detail["bar_open"] == "2026-02-06T00:00Z"


def test_last_price_is_the_close_of_the_bar_that_closed_at_as_of(crash):
    last = crash.get("price.last_usd")
    assert last.detail["bar_close"] == "2026-02-06T08:00Z" and last.value == pytest.approx(64856.0)


def test_max_drop_runs_from_a_high_to_a_later_low(crash):
    drop = crash.get("price.max_drop_24h_pct")
    assert drop.detail["to_low"] == 60000.0 and drop.detail["from_bar"] < drop.detail["to_bar"]
    assert drop.value == pytest.approx((60000 / drop.detail["from_high"] - 1) * 100, abs=1e-3)
    assert -20 < drop.value < -15


def test_last_complete_day_is_february_5_down_14_pct(crash):
    assert crash.get("price.close_usd").window == "1d:2026-02-05"
    assert crash.value("price.change_1d_pct") == pytest.approx(-14.0, abs=0.1)
    assert crash.get("price.change_1d_pct").unusual["zscore"] < -5


def test_all_time_high_is_october_6_2025(crash):
    assert 126_200 <= crash.value("price.ath_usd") < 126_300
    assert crash.value("price.ath_date") == "2025-10-06"
    assert crash.value("price.drawdown_from_ath_pct") == pytest.approx((64856 / crash.value("price.ath_usd") - 1) * 100)


def test_lowest_since_autumn_2024_and_skips_the_window_itself(crash):
    since = dt.date.fromisoformat(crash.value("price.lowest_since_date"))
    assert dt.date(2024, 9, 1) <= since <= dt.date(2024, 11, 30)
    assert crash.get("price.lowest_since_date").detail["that_day_low"] <= 60000


def test_price_is_below_the_2024_election_close(crash):
    below = crash.get("price.below_event")
    assert "us-election-2024" in below.value
    election = next(e for e in below.detail["events"] if e["id"] == "us-election-2024")
    assert election["close"] == pytest.approx(69380, abs=1)
    dates = [e["date"] for e in below.detail["events"]]
    assert dates == sorted(dates, reverse=True)


def test_no_look_ahead_before_the_low(store):
    fs = metrics.compute(store, utc(2026, 2, 5, 12))
    assert fs.value("price.low_24h_usd") > 60000
    assert fs.get("price.close_usd").window == "1d:2026-02-04"
    for f in fs:
        for s in f.sources:
            assert s.last is None or s.last < dt.datetime(2026, 2, 5, 12), (f.id, s)


def test_before_the_hourly_data_the_daily_composite_is_the_primary_market(store):
    fs = metrics.compute(store, utc(2020, 3, 13, 7))  # --date 2020-03-12: its composite bar is published
    last = fs.get("price.last_usd")
    assert last.window == "1d:2020-03-12" and "cryptoquant" in last.sources[0].origin
    assert fs.value("price.change_1d_pct") < -35


def test_hypothetical_price_revalues_drawdown_and_is_marked(store):
    fs = metrics.compute(store, CRASH, price=55000)
    dd = fs.get("price.drawdown_from_ath_pct")
    assert dd.hypothetical and dd.value == pytest.approx((55000 / fs.value("price.ath_usd") - 1) * 100)
    assert not fs.get("price.last_usd").hypothetical


def test_as_of_after_the_data_is_a_clear_error(store):
    with pytest.raises(NoDataError, match="no price data after"):
        metrics.compute(store, utc(2030, 1, 2))
    with pytest.raises(NoDataError, match="no price data before"):
        metrics.compute(store, utc(2005, 1, 2))


@pytest.mark.parametrize("as_of", [CRASH, utc(2026, 1, 14, 6, 30), utc(2026, 1, 20, 3)])
def test_all_time_high_counts_hourly_bars_from_the_end_of_the_composites_last_day(store, as_of):
    """The composite's day D is published at D+1 07:00, but Binance's hourly bars from D+1 00:00 on are
    already known: the high is the max over both, derived here from the raw rows."""
    t = as_of.replace(tzinfo=None)
    q = store.duck.execute
    last_day, = q("""SELECT max(open_time) FROM candles WHERE venue = 'cryptoquant' AND interval = '1d'
                     AND available_at <= ?""", [t]).fetchone()
    daily_high, = q("""SELECT max(high) FROM candles WHERE venue = 'cryptoquant' AND interval = '1d'
                       AND available_at <= ?""", [t]).fetchone()
    since = last_day + dt.timedelta(days=1)
    hourly_high, hours = q("""SELECT max(high), count(*) FROM candles WHERE venue = 'binance' AND symbol = 'BTCUSDT'
                              AND interval = '1h' AND open_time >= ? AND available_at <= ?""", [since, t]).fetchone()
    assert hours >= 1  # the instants are inside the hourly file (2026-01..02) and before 07:00
    fs = metrics.compute(store, as_of, areas=("price",))
    assert fs.value("price.ath_usd") == pytest.approx(max(daily_high, hourly_high), rel=1e-12)
    hourly = next(s for s in fs.get("price.ath_usd").sources if "since the composite" in (s.note or ""))
    assert hourly.first == since and hourly.rows == hours


def test_a_gap_in_the_primary_markets_bars_is_not_available_in_both_paths_not_a_crash(store):
    # The composite has no daily bars for 2023-11-21 and 11-22 (found by the every-day sweep: the
    # snapshot crashed). At 11-22 07:00 and 11-23 07:00 its last bar (11-20) was published 24-48 h
    # before: the market is still current (stale_after: 2 days) but no bar closed in the 24 h to T.
    from btcstress import history
    from btcstress.metrics.price import NO_BAR_24H
    ids = ("price.last_usd", "price.low_24h_usd", "price.high_24h_usd", "price.change_24h_pct",
           "price.max_drop_24h_pct")
    for t in (utc(2023, 11, 22, 7), utc(2023, 11, 23, 7)):
        naive = t.replace(tzinfo=None)
        in_24h, last = store.duck.execute(
            "SELECT count(*) FILTER (WHERE available_at > ? AND available_at <= ?), max(available_at) "
            "FILTER (WHERE available_at <= ?) FROM candles WHERE venue = 'cryptoquant' AND interval = '1d'",
            [naive - dt.timedelta(days=1), naive, naive]).fetchone()
        assert in_24h == 0 and dt.timedelta(days=1) <= naive - last <= dt.timedelta(days=2)  # the gap, from raw rows
        fs = metrics.compute(store, t, areas=["price"])
        for i in ids:
            f = fs.get(i)
            assert f.value is None and f.note == f"not available: {NO_BAR_24H}", (t, i, f.note)
        assert fs.get("price.close_usd").window == "1d:2023-11-20"  # the last day is still the last one there is
        rows = history.compute(store, [t], areas=("price",), fallback=False).rows
        got = rows[rows["id"].isin(ids)]
        assert len(got) == len(ids) and got["value"].isna().all()
        assert set(got["note"]) == {f"not available: {NO_BAR_24H}"}
