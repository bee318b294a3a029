"""Importers for the leverage area: CryptoQuant derivatives files (read in place from the snapshot) and
the venue liquidation parsers (on the recorded payloads in ../shared/fixtures, read in place)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from tests.conftest import FIXTURES, missing

from btcstress.parsers import binance_force_order, bybit_liquidation, cryptoquant_derivatives, okx_liquidation, snapshot


def _read(rel: str) -> str:
    path = FIXTURES / rel
    if not path.is_file():
        missing(f"fixture {path} not present")
    return path.read_text()


def _events(parsed):
    return parsed.rows.get("liquidations", [])


# -- CryptoQuant daily files --------------------------------------------------------------------

def test_all_nine_liquidation_files_have_an_importer(snapshot_dir):
    todo, unknown = snapshot.plan(snapshot_dir)
    mine = [origin for _, origin, _ in todo if origin.startswith("snapshot/liquidations/")]
    assert len(mine) == 9
    assert not [u for u in unknown if u.startswith("liquidations/")]


def test_partial_last_day_is_skipped_with_its_reason_not_stored(snapshot_dir):
    rel = "liquidations/cryptoquant_btc_long_liquidations_usd_daily.csv"
    p = snapshot.IMPORTERS[rel]((snapshot_dir / rel).read_text(), rel)
    rows = {r["date"]: r for r in p.rows["liquidations_daily"]}
    assert p.lines_in == 2670 and len(rows) == 2669 and not p.quarantine
    assert dict(p.skipped) == {"partial day: the export was taken during 2026-04-11": 1}
    assert dt.date(2026, 4, 11) not in rows  # the partial row shows 0.0 longs: not a day's total
    assert rows[dt.date(2026, 2, 5)]["long_usd"] == pytest.approx(688457614.2918473)
    assert rows[dt.date(2026, 2, 5)]["asset"] == "BTC"


def test_leverage_ratio_file_ending_before_export_day_loses_nothing(snapshot_dir):
    rel = "liquidations/cryptoquant_btc_estimated_leverage_ratio_daily.csv"
    p = snapshot.IMPORTERS[rel]((snapshot_dir / rel).read_text(), rel)
    assert len(p.rows["derivatives_daily"]) == 2569 and not p.skipped
    assert {r["date"]: r["leverage_ratio"] for r in p.rows["derivatives_daily"]}[dt.date(2026, 2, 5)] == 0.24153805


def test_funding_rate_may_be_negative_but_not_text():
    text = "date,Funding Rates\n2026-02-06,-0.0209677333333333\n2026-02-07,n/a\n"
    p = cryptoquant_derivatives.parse(text, "t.csv", measure="funding_rate_pct", asset="BTC")
    assert [r["funding_rate_pct"] for r in p.rows["derivatives_daily"]] == [-0.0209677333333333]
    assert [(q["line"], q["field"], q["reason"]) for q in p.quarantine] == [(3, "Funding Rates", "not a number")]


def test_negative_liquidations_are_quarantined():
    text = "date,Long Liquidations USD\n2026-02-04,1.0\n2026-02-05,-5\n"
    p = cryptoquant_derivatives.parse(text, "t.csv", measure="long_usd", asset="ETH")
    assert len(p.rows["liquidations_daily"]) == 1
    assert p.quarantine[0]["line"] == 3 and p.quarantine[0]["reason"] == "must be >= 0"


# -- Binance USD-M forceOrder -------------------------------------------------------------------

def test_binance_doc_examples_sell_liquidates_a_long_buy_a_short():
    # Documentation examples (not live captures): see ../shared/fixtures/SOURCES.md.
    p = binance_force_order.parse(_read("binance/forceOrder-doc-examples.jsonl"), "doc")
    ev = _events(p)
    assert [(e["side"], e["price"], e["qty"]) for e in ev] == [("long", 9910.0, 0.014), ("short", 9948.5, 0.020)]
    assert ev[0]["usd"] == pytest.approx(138.74) and ev[1]["usd"] == pytest.approx(198.97)
    assert ev[0]["ts"] == dt.datetime(2019, 9, 9, 7, 34, 20, 893000)
    assert all(e["venue"] == "binance-usdm" and e["symbol"] == "BTCUSDT" and e["asset"] == "BTC" for e in ev)
    assert not p.quarantine


def test_binance_live_frame_uses_filled_quantity_and_average_price():
    p = binance_force_order.parse(_read("binance/forceOrder-live-2026-10-09.jsonl"), "live")
    (e,) = _events(p)
    # q=0.190 ordered, l=0.155 last fill, z=0.190 accumulated fill; ap=82651.90 average price (p=82338.30 limit).
    assert (e["side"], e["price"], e["qty"]) == ("long", 82651.90, 0.190)
    assert e["usd"] == pytest.approx(15703.861)
    assert e["ts"] == dt.datetime(2026, 10, 9, 17, 6, 42, 120000)
    assert e["available_at"] == dt.datetime(2026, 10, 9, 17, 6, 43, 55000)  # pushed at E
    assert e["id"].startswith("h:") and e["raw_id"] is None


def test_binance_coin_margined_symbol_is_quarantined_not_misread():
    msg = {"e": "forceOrder", "E": 1791565603055, "o": {"s": "BTCUSD_PERP", "S": "SELL", "ap": "82000", "z": "3",
                                                           "T": 1791565602120}}
    p = binance_force_order.parse(json.dumps(msg), "t")
    assert not _events(p) and "COIN-M" in p.quarantine[0]["reason"]


# -- Bybit v5 ------------------------------------------------------------------------------------

def test_bybit_live_frame_buy_means_a_long_was_liquidated():
    p = bybit_liquidation.parse(_read("bybit/allLiquidation-live-2026-10-09.jsonl"), "live")
    ev = _events(p)
    assert [(e["side"], e["qty"], e["price"]) for e in ev] == [("long", 0.006, 82396.90), ("long", 0.038, 82394.30)]
    assert [round(e["usd"], 4) for e in ev] == [494.3814, 3130.9834]
    assert ev[0]["ts"] == dt.datetime(2026, 10, 9, 17, 6, 40, 992000)
    assert len({e["id"] for e in ev}) == 2


def test_bybit_legacy_liquidation_topic_and_inverse_sizes():
    # Built from Bybit's v5 documentation example for the older `liquidation.{symbol}` topic (no real
    # sample in ../shared/fixtures); the inverse line reuses the allLiquidation shape with a BTCUSD symbol,
    # whose size Bybit counts in USD.
    legacy = {"topic": "liquidation.GALAUSDT", "type": "snapshot", "ts": 1673251091822,
              "data": {"price": "0.03803", "side": "Sell", "size": "1637", "symbol": "GALAUSDT",
                       "updatedTime": 1673251091822}}
    inverse = {"topic": "allLiquidation.BTCUSD", "type": "snapshot", "ts": 1791565601482,
               "data": [{"T": 1791565600992, "s": "BTCUSD", "S": "Buy", "v": "8000", "p": "80000"}]}
    p = bybit_liquidation.parse(json.dumps(legacy) + "\n" + json.dumps(inverse), "built")
    a, b = _events(p)
    assert (a["asset"], a["side"], a["qty"], a["usd"]) == ("GALA", "short", 1637.0, pytest.approx(62.25511))
    assert (b["asset"], b["side"], b["qty"], b["usd"]) == ("BTC", "long", 0.1, 8000.0)


# -- OKX v5 --------------------------------------------------------------------------------------

def test_okx_live_frames_contracts_times_contract_value_and_unknown_instrument_quarantined():
    p = okx_liquidation.parse(_read("okx/liquidation-orders-live-2026-10-09.jsonl"), "live")
    (e,) = _events(p)
    assert (e["symbol"], e["asset"], e["side"]) == ("BTC-USDT-SWAP", "BTC", "long")
    assert e["qty"] == pytest.approx(0.0855)  # 8.55 contracts x 0.01 BTC
    assert e["usd"] == pytest.approx(7067.06235) and e["price"] == 82655.7
    (q,) = p.quarantine
    assert q["line"] == 2 and q["value"] == "CELO-USDT-SWAP"
    assert q["reason"].startswith("unknown contract value for CELO-USDT-SWAP")


def test_okx_net_position_side_follows_the_order_side_and_contradictions_are_quarantined():
    # Built from the live frame's shape (one-way mode `net` has no real sample).
    def msg(pos, side, inst="ETH-USD-SWAP"):
        return json.dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                           "data": [{"instId": inst, "instType": "SWAP", "details": [
                               {"bkPx": "2000", "posSide": pos, "side": side, "sz": "3", "ts": "1791565600771"}]}]})
    p = okx_liquidation.parse("\n".join([msg("net", "buy"), msg("long", "buy")]), "built")
    (e,) = _events(p)
    assert (e["side"], e["usd"], e["qty"]) == ("short", 30.0, 0.015)  # inverse: 3 x 10 USD, / 2000
    assert p.quarantine[0]["line"] == 2 and "contradicts" in p.quarantine[0]["reason"]


# -- malformed input and replays -----------------------------------------------------------------

def test_malformed_messages_are_quarantined_with_line_and_reason_never_fatal():
    good = _read("bybit/allLiquidation-live-2026-10-09.jsonl").strip()
    missing_price = json.dumps({"topic": "allLiquidation.BTCUSDT", "ts": 1791565601482,
                                "data": [{"T": 1791565600992, "s": "BTCUSDT", "S": "Buy", "v": "0.1"}]})
    seconds = json.dumps({"topic": "allLiquidation.BTCUSDT", "ts": 1791565601482,
                          "data": [{"T": 1791565600, "s": "BTCUSDT", "S": "Buy", "v": "0.1", "p": "1"}]})
    ack = json.dumps({"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "x"})
    text = "\n".join(['{"topic": "allLiquidation.BTCUSDT", "data": [', missing_price, ack, seconds, good])
    p = bybit_liquidation.parse(text, "bad.jsonl")
    assert len(_events(p)) == 2 and p.lines_in == 5
    assert [(q["line"], q["field"]) for q in p.quarantine] == [(1, "json"), (2, "data[0].p"), (4, "data[0].T")]
    assert p.quarantine[0]["reason"].startswith("not valid JSON")
    assert p.quarantine[1]["reason"] == "missing field"
    assert p.quarantine[2]["reason"] == "timestamp in s, expected milliseconds"
    assert sum(p.skipped.values()) == 1


def test_event_ids_are_deterministic_so_replays_never_duplicate():
    text = _read("binance/forceOrder-live-2026-10-09.jsonl")
    a, b = binance_force_order.parse(text, "one"), binance_force_order.parse(text, "two")
    assert [e["id"] for e in _events(a)] == [e["id"] for e in _events(b)]


def test_the_same_message_twice_in_one_file_is_counted_as_a_duplicate():
    text = _read("okx/liquidation-orders-live-2026-10-09.jsonl").splitlines()[0]
    p = okx_liquidation.parse(text + "\n" + text, "dup")
    assert len(p.tables()["liquidations"]) == 1
    assert p.skipped["exact duplicate of an earlier line"] == 1
