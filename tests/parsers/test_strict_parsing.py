"""Issue 17, "wrong values stored silently" and "one input, one crash": strict numbers, physical bounds,
malformed lines and messages. Every input row here is written by hand; expectations follow from it."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from btcstress.parsers import (alternative_me, binance_force_order, binance_klines, bybit_liquidation, bounds,
                               cq_network, cryptoquant, okx_liquidation)
from btcstress.parsers.common import Invalid, strict_float, strict_int

HEADER = "date,Open,High,Low,Close,Volume\n"


@pytest.mark.parametrize("raw", ["95_000", "９５０００", "٩٥٠٠٠", "inf", "-Infinity", "nan", "1e400", " 95000", "0x10",
                                 "95000.0.1", "1,000", ""])
def test_strict_float_refuses_what_python_float_would_take(raw):
    with pytest.raises(Invalid):
        strict_float(raw, "close")


@pytest.mark.parametrize("raw, v", [("95000", 95000.0), ("-1.5", -1.5), ("1e3", 1000.0), (".5", 0.5), ("7.", 7.0),
                                    (12, 12.0), (2.5, 2.5)])
def test_strict_float_reads_plain_decimals_and_json_numbers(raw, v):
    assert strict_float(raw, "x") == v


@pytest.mark.parametrize("raw", [True, "1_000", "１２", "1e3", 1.0, None, [1]])
def test_strict_int_refuses_lenient_integers(raw):
    with pytest.raises(Invalid):
        strict_int(raw, "ts")


def test_cryptoquant_ohlcv_garbage_lines_are_quarantined_not_skipped():
    text = (HEADER + "2009-01-03,,,,,0.0\n"  # a real "no price yet" row: skipped
            + "garbage\n" + "x,y\n" + ",,,,,\n," + "\n" + "not-a-date,,,,,\n" + "2026-02-05,1,2,0.5,1.5,10\n")
    p = cryptoquant.parse_ohlcv(text, "cq.csv")
    lines = sorted(q["line"] for q in p.quarantine)
    assert lines == [3, 4, 7]
    assert dict(p.skipped) == {"no price yet (blank OHLC)": 1}
    assert len(p.rows["candles"]) == 1
    # ",,,,," (line 5) and "," (line 6) are blank lines: no fields with content, not data
    assert p.lines_in == 5


@pytest.mark.parametrize("close", ["1e308", "9e15", "1e-300", "95_000", "９５０００", "inf"])
def test_an_implausible_price_is_quarantined_and_never_stored(close):
    text = HEADER + f"2026-02-05,62000,1e309,1e-301,{close},10\n" + f"2026-02-06,62000,63000,60000,{close},10\n"
    p = cryptoquant.parse_ohlcv(text, "cq.csv")
    assert not p.rows.get("candles") and len({q["line"] for q in p.quarantine}) == 2


def test_bars_dated_in_the_future_are_quarantined():
    tomorrow = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
    p = cryptoquant.parse_ohlcv(HEADER + f"{tomorrow},1,2,0.5,1.5,10\n", "cq.csv")
    assert not p.rows.get("candles") and p.quarantine[0]["field"] == "open_time"
    t2100 = int((dt.datetime(2100, 1, 1) - dt.datetime(1970, 1, 1)).total_seconds() * 1000)
    good = int((dt.datetime(2026, 2, 6) - dt.datetime(1970, 1, 1)).total_seconds() * 1000)
    line = "{t},62000,63000,60000,62500,10,{c},620000,100,5,310000,0"
    text = line.format(t=good, c=good + 3_599_999) + "\n" + line.format(t=t2100, c=t2100 + 3_599_999) + "\n"
    p = binance_klines.parse(text, "k.csv", venue="binance", symbol="BTCUSDT")
    assert len(p.rows["candles"]) == 1 and [q["line"] for q in p.quarantine] == [2]


def test_a_hashrate_of_1e308_is_quarantined_not_stored_as_infinity():
    text = "date,Hashrate\n2026-02-05,1e308\n2026-02-06,860000000000\n"
    p = cq_network.parse_metric(text, "h.csv", target="network_daily", metric="hashrate_hs", column="Hashrate",
                                scale=1e9, sign="positive")
    assert [r["value"] for r in p.rows["network_daily"]] == [860000000000 * 1e9]
    assert [q["line"] for q in p.quarantine] == [2]


def _force(ap="62000.5", z="0.010", S="SELL", s="BTCUSDT"):
    return json.dumps({"e": "forceOrder", "E": 1770364800100,
                       "o": {"s": s, "S": S, "ap": ap, "z": z, "T": 1770364800000}})


def test_a_liquidation_notional_cannot_be_infinite():
    p = binance_force_order.parse(_force(ap="1e200", z="1e200") + "\n" + _force() + "\n", "f.jsonl")
    assert len(p.rows["liquidations"]) == 1 and p.rows["liquidations"][0]["usd"] == 62000.5 * 0.010
    assert p.quarantine[0]["line"] == 1


def test_one_deeply_nested_or_mistyped_message_does_not_abort_the_file():
    lines = [_force(), "[" * 100_000 + "]" * 100_000, _force(S=["SELL"]), _force(s={"a": 1}), _force(ap=True),
             json.dumps({"stream": "x", "data": [[1], "s", None]}), _force(z="0.020")]
    p = binance_force_order.parse("\n".join(lines) + "\n", "f.jsonl")
    assert len(p.rows["liquidations"]) == 2
    assert sorted({q["line"] for q in p.quarantine}) == [2, 3, 4, 5, 6]
    assert p.lines_in == 7


def test_bybit_and_okx_survive_wrong_types_and_a_huge_symbol():
    huge = "A" * 100_000 + "USDT"
    bybit = [json.dumps({"topic": "allLiquidation.BTCUSDT", "ts": 1770364800100,
                         "data": [{"T": 1770364800000, "s": huge, "S": "Buy", "v": "0.1", "p": "62000"},
                                  {"T": 1770364800000, "s": "BTCUSDT", "S": ["Buy"], "v": "0.1", "p": "62000"},
                                  {"T": 1770364800000, "s": "BTCUSDT", "S": "Buy", "v": "0.1", "p": "62000"}]}),
             json.dumps({"topic": ["x"], "data": 5}), json.dumps({"topic": "liquidation.BTCUSDT", "data": [1, 2]})]
    p = bybit_liquidation.parse("\n".join(bybit) + "\n", "b.jsonl")
    assert len(p.rows["liquidations"]) == 1
    assert {q["line"] for q in p.quarantine} == {1, 3}
    okx = [json.dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                       "data": [{"instId": ["BTC-USDT-SWAP"], "details": [{"bkPx": "1", "sz": "1", "ts": "1770364800000",
                                                                         "side": "sell"}]},
                                {"instId": "BTC-USDT-SWAP", "details": [{"bkPx": "62000", "sz": "2",
                                                                        "ts": "1770364800000", "side": {"a": 1},
                                                                        "posSide": ["long"]}]}]}),
           json.dumps({"arg": "x", "data": None}), json.dumps({"arg": {"channel": "liquidation-orders"}, "data": "x"})]
    p = okx_liquidation.parse("\n".join(okx) + "\n", "o.jsonl")
    assert not p.rows.get("liquidations")
    assert {q["line"] for q in p.quarantine} == {1, 3}


def test_fear_and_greed_cut_mid_line_is_quarantined_not_a_crash():
    text = "date,fng_value,fng_classification\n2026-02-05,9,Extreme Fear\n2026-02-06,1"
    p = alternative_me.parse(text, "fng.csv")
    assert len(p.rows["indicators_daily"]) == 1 and [q["line"] for q in p.quarantine] == [3]


def test_the_bounds_table_is_documented_in_data_md():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "DATA.md").read_text()
    section = doc.split("## Physical bounds", 1)[1]
    for metric in bounds.METRICS:
        assert f"`{metric}`" in section, metric
    for table, column in bounds.COLUMNS:
        assert f"`{table}.{column}`" in section, (table, column)
