"""Binance kline archive CSVs: unit detection, validation, and the real snapshot files."""

from __future__ import annotations

import datetime as dt

from btcstress.parsers import binance_klines

# Rows written for these tests in the archive's format (not data from the snapshot).
MS = "1770336000000,62000.0,63000.0,60000.0,62500.0,10.0,1770339599999,625000.0,100,5.0,312500.0,0\n"
US = "1770336000000000,62000.0,63000.0,60000.0,62500.0,10.0,1770339599999999,625000.0,100,5.0,312500.0,0\n"


def _parse(text, venue="binance"):
    return binance_klines.parse(text, "test.csv", venue=venue, symbol="BTCUSDT")


def test_microsecond_and_millisecond_files_give_the_same_bar():
    a, b = _parse(MS).tables()["candles"].to_pylist()[0], _parse(US).tables()["candles"].to_pylist()[0]
    assert a["open_time"] == b["open_time"] == dt.datetime(2026, 2, 6, 0, 0)
    assert a["interval"] == b["interval"] == "1h"


def test_a_row_in_another_unit_is_quarantined_not_rescaled():
    p = _parse(US + US.replace("1770336000000000", "1770339600000000").replace("1770339599999999", "1770343199999999")
               + MS.replace("1770336000000", "1770343200000").replace("1770339599999", "1770346799999"))
    assert len(p.tables()["candles"]) == 2
    (q,) = p.quarantine
    assert q["line"] == 3 and q["field"] == "open_time" and "file's timestamps are in us" in q["reason"]


def test_header_row_is_recognised_and_line_numbers_count_it():
    p = _parse("open_time,open,high,low,close,volume,close_time,quote_volume,count,a,b,ignore\n"
               + MS.replace("60000.0", "63500.0"))
    (q,) = p.quarantine
    assert q["line"] == 2 and q["field"] == "high" and "high < low" in q["reason"]


def test_bad_values_are_quarantined_with_field_and_reason():
    p = _parse(MS.replace("62500.0", "abc", 1) + MS.replace("1770336000000", "1770339600000").replace(
        "1770339599999", "1770343199999").replace("62000.0", "-1"))
    reasons = {(q["field"], q["reason"]) for q in p.quarantine}
    assert ("close", "not a number") in reasons and ("open", "must be >= 0") in reasons


def test_open_outside_the_bar_range_is_quarantined():
    p = _parse(MS.replace("62000.0", "64000.0"))
    assert p.quarantine[0]["field"] == "open" and "outside" in p.quarantine[0]["reason"]


def test_duplicate_key_with_different_values_quarantines_every_copy():
    p = _parse(MS + MS.replace("62500.0", "62600.0"))
    assert "candles" not in p.tables()
    assert [q["line"] for q in p.quarantine] == [1, 2]
    assert all("duplicate key" in q["reason"] for q in p.quarantine)


def test_identical_duplicate_lines_collapse_and_are_counted():
    p = _parse(MS + MS)
    assert len(p.tables()["candles"]) == 1 and p.skipped["exact duplicate of an earlier line"] == 1


def test_real_spot_file_is_microseconds_and_complete(snapshot_dir):
    path = snapshot_dir / "price/binance_spot_btcusdt_1h_2026-01_2026-02.csv"
    p = _parse(path.read_text())
    t = p.tables()["candles"].to_pandas()
    assert not p.quarantine and len(t) == 1416 == p.lines_in
    assert t.open_time.min() == dt.datetime(2026, 1, 1) and t.open_time.max() == dt.datetime(2026, 2, 28, 23)
    assert t[t.open_time == dt.datetime(2026, 2, 6)].low.iloc[0] == 60000.0


def test_real_futures_file_is_milliseconds_and_complete(snapshot_dir):
    path = snapshot_dir / "price/binance_futures_um_btcusdt_1h_2024-06_2026-05.csv"
    p = _parse(path.read_text(), venue="binance-usdm")
    t = p.tables()["candles"].to_pandas()
    assert not p.quarantine and len(t) == 17520
    assert set(t.interval) == {"1h"}
    assert t[t.open_time.dt.date == dt.date(2026, 2, 6)].low.min() == 59800.0
