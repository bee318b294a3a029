"""CryptoQuant, TradingView, Alternative.me and the derived market cap: validation and real files."""

from __future__ import annotations

import datetime as dt

import pytest

from btcstress.errors import ParseError
from btcstress.parsers import alternative_me, cryptoquant, derived_marketcap, tradingview

OHLCV = "date,Open,High,Low,Close,Volume\n"


def test_blank_price_rows_are_skipped_and_counted_not_stored():
    p = cryptoquant.parse_ohlcv(OHLCV + "2009-01-03,,,,,0.0\n2026-02-05,73065,73271,62277,62809,100\n", "t.csv")
    assert len(p.tables()["candles"]) == 1 and p.skipped["no price yet (blank OHLC)"] == 1 and not p.quarantine


@pytest.mark.parametrize("row, field, reason", [
    ("2026-02-05,73065,73271,62277,abc,1", "Close", "not a number"),
    ("2026-02-05,0,73271,62277,62809,1", "Open", "must be > 0"),
    ("2026-02-05,73065,60000,62277,62809,1", "high", "high < low"),
    ("2026-02-05,73065,73271,62277,73300,1", "close", "outside"),
    ("2031-02-05,73065,73271,62277,62809,1", "date", "out of range"),
    ("2008-12-31,73065,73271,62277,62809,1", "date", "out of range"),
    ("05/02/2026,73065,73271,62277,62809,1", "date", "not a date"),
    ("2026-02-05,73065,73271,62277,62809,1,7", "*", "fields"),
])
def test_bad_daily_rows_are_quarantined_with_line_field_reason(row, field, reason):
    p = cryptoquant.parse_ohlcv(OHLCV + row + "\n", "t.csv")
    (q,) = p.quarantine
    assert q["line"] == 2 and q["field"] == field and reason in q["reason"] and q["raw"] == row


def test_a_file_without_the_expected_columns_is_refused_whole():
    with pytest.raises(ParseError, match="missing column"):
        cryptoquant.parse_ohlcv("day,price\n2026-02-05,1\n", "t.csv")


def test_real_cryptoquant_price_file_has_two_inconsistent_bars(snapshot_dir):
    p = cryptoquant.parse_ohlcv((snapshot_dir / "price/cryptoquant_btc_usd_ohlcv_daily.csv").read_text(), "t")
    assert sorted((q["line"], q["field"]) for q in p.quarantine) == [(5437, "close"), (5438, "open")]
    t = p.tables()["candles"].to_pandas()
    assert t.set_index("open_time").loc[dt.datetime(2026, 2, 6)].low == pytest.approx(60001.47, abs=0.01)


def test_market_cap_zero_before_the_series_is_skipped(snapshot_dir):
    text = (snapshot_dir / "marketcap/cryptoquant_btc_market_cap_daily.csv").read_text()
    p = cryptoquant.parse_series(text, "t", target="market_cap_daily", value_field="cap_usd", fixed={"scope": "btc"},
                                 positive=True, zero_is_empty=True)
    assert not p.quarantine and p.skipped["zero before the series starts"] > 0
    assert len(p.tables()["market_cap_daily"]) + sum(p.skipped.values()) == p.lines_in


def test_negative_market_cap_is_quarantined():
    p = cryptoquant.parse_series("date,Market Cap\n2026-02-05,-5\n", "t", target="market_cap_daily",
                                 value_field="cap_usd", fixed={"scope": "btc"}, positive=True, zero_is_empty=True)
    assert p.quarantine[0]["reason"] == "must be > 0"


def test_dominance_outside_0_100_is_quarantined():
    p = tradingview.parse_close("date,open,high,low,close\n2026-02-05,58,101,57,100.5\n", "t", target="indicators_daily",
                                value_field="value", fixed={"name": "btc_dominance_pct", "label": None}, bounds=(0, 100))
    assert p.quarantine[0]["field"] == "close"


def test_fear_greed_is_known_from_the_start_of_its_day():
    p = alternative_me.parse("date,fng_value,fng_classification\n2026-02-06,9,Extreme Fear\n", "t")
    row = p.tables()["indicators_daily"].to_pylist()[0]
    assert row["available_at"] == dt.datetime(2026, 2, 6) and row["value"] == 9.0


def test_fear_greed_rejects_unknown_labels_and_out_of_range_values():
    p = alternative_me.parse("date,fng_value,fng_classification\n2026-02-06,9,Panic\n2026-02-07,140,Greed\n", "t")
    assert [q["field"] for q in p.quarantine] == ["fng_classification", "fng_value"]


def test_derived_total_cap_gives_the_crash_day_change(snapshot_dir):
    p = derived_marketcap.parse((snapshot_dir / "marketcap/derived_total_crypto_market_cap_daily.csv").read_text(), "t")
    t = p.tables()["market_cap_daily"].to_pandas()
    total = t[t.scope == "total"].set_index("date").cap_usd
    change = total[dt.date(2026, 2, 5)] - total[dt.date(2026, 2, 4)]
    assert change == pytest.approx(-311e9, rel=0.01)
