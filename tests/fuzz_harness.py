"""The fuzzing harness shared by tests/parsers/test_fuzz_parsers.py (light, in `make test`) and
scripts/fuzz_parsers.py (the seeded long run).

For every parser (every snapshot importer and every live-message parser) it has a tiny valid sample
written here by hand in the source's format, and checks one property on any text:

- the parser never raises, except ParseError (a file refused whole, with a message);
- every data line is accounted for: it stored a row, was quarantined, or was skipped with a reason;
- nothing it would store is non-finite or outside the series' physical bounds (parsers/bounds.py),
  and its rows build the store's Arrow tables.

Mutations: arbitrary text, truncation of the sample at an offset, a field replaced by a hostile
value (huge, tiny, non-finite, "95_000", full-width digits, a 100,000-character string, quotes, NUL,
a nested JSON value), lines duplicated, dropped or swapped, and for JSON messages a leaf replaced by
an arbitrary JSON value (wrong types, deep nesting).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from functools import partial
from typing import Any, Callable

from btcstress.errors import ParseError
from btcstress.parsers import (alternative_me, artemis, artemis_etf, binance_derivatives, binance_force_order,
                               binance_klines, bounds, bybit_liquidation, citations, cq_network, cryptoquant,
                               cryptoquant_derivatives, derived_marketcap, farside, mempool, okx_liquidation,
                               sec_8k_html, tradingview, treasury)
from btcstress.parsers.common import Parsed

T0 = 1770336000000  # 2026-02-06T00:00Z in ms
D = dt.date(2026, 4, 20)

# name -> (parser(text, origin) -> Parsed, sample text, is JSON lines)
PARSERS: dict[str, tuple[Callable[[str, str], Parsed], str, str]] = {
    "binance_klines": (partial(binance_klines.parse, venue="binance", symbol="BTCUSDT"),
                       f"{T0},62000.5,63000,60000,62500.25,10.5,{T0 + 3599999},650000.1,1200,5.1,320000.2,0\n"
                       f"{T0 + 3600000},62500.25,62800,61000,61500,8,{T0 + 7199999},500000,900,4,250000,0\n", "csv"),
    "cryptoquant_ohlcv": (cryptoquant.parse_ohlcv,
                          "date,Open,High,Low,Close,Volume\n2009-01-03,,,,,0.0\n2026-02-05,73000.1,73500,62000,62900.5,"
                          "125000.5\n2026-02-06,62900.5,71000,60030,70500,98000\n", "csv"),
    "cryptoquant_series": (partial(cryptoquant.parse_series, target="market_cap_daily", value_field="cap_usd",
                                   fixed={"scope": "btc"}, positive=True, zero_is_empty=True),
                           "date,Market Cap\n2010-07-17,0\n2026-02-05,1.25e12\n2026-02-06,1.40e12\n", "csv"),
    "cq_network_hashrate": (partial(cq_network.parse_metric, target="network_daily", metric="hashrate_hs",
                                    column="Hashrate", scale=1e9, sign="positive"),
                            "date,Hashrate\n2009-01-03,\n2026-02-05,860123456789.5\n2026-02-06,861000000000\n", "csv"),
    "cq_network_netflow": (partial(cq_network.parse_metric, target="miner_flows_daily", metric="netflow_btc",
                                   column="Miner Netflow Total", sign="any"),
                           "date,Miner Netflow Total\n2026-02-05,-1234.5\n2026-02-06,88.25\n", "csv"),
    "cq_derivatives": (partial(cryptoquant_derivatives.parse, measure="long_usd", asset="BTC"),
                       "date,Long Liquidations\n2026-02-05,688460000.5\n2026-02-06,12000000\n", "csv"),
    "derived_marketcap": (derived_marketcap.parse,
                          "date,total_mcap_usd_open,total_mcap_usd_close,total3_usd_close,btc_dominance_pct_close,"
                          "eth_dominance_pct_close,btc_mcap_usd_close_implied,eth_mcap_usd_close_implied\n"
                          "2026-02-05,2.5e12,2.4e12,6e11,58.5,10.2,1.4e12,2.4e11\n", "csv"),
    "tradingview_close": (partial(tradingview.parse_close, target="indicators_daily", value_field="value",
                                  fixed={"name": "btc_dominance_pct", "label": None}, bounds=(0, 100)),
                          "date,open,high,low,close,Volume\n2026-02-05,58,59,57,58.5,\n2026-02-06,58.5,60,58,59.9,\n",
                          "csv"),
    "alternative_me": (alternative_me.parse,
                       "date,fng_value,fng_classification\n2026-02-05,12,Extreme Fear\n2026-02-06,9,Extreme Fear\n",
                       "csv"),
    "artemis_wide": (partial(artemis.parse_wide, target="indicators_daily", entity_field="name", value_field="value",
                             fixed={"label": None}, rename=lambda c: f"etf_aum_to_mcap_{c.lower()}"),
                     "date,Bitcoin,Ethereum\n2026-02-05,0.0612,\n2026-02-06,0.0633,0.0211\n", "csv"),
    "artemis_etf_aum": (artemis_etf.parse_aum, "date,IBIT,FBTC,Bitcoin\n2026-02-05,5.1e10,1.6e10,3.1e9\n", "csv"),
    "artemis_etf_weekly": (artemis_etf.parse_weekly_flows,
                           "date,Bitcoin - ETF Flows,Ethereum - ETF Flows\n2026-02-08,-318100000,-52000000\n", "csv"),
    "farside": (farside.parse, "date,IBIT,FBTC,Total\n2026-02-05,(175.3),-12.5,(187.8)\n2026-02-06,231.6,-,231.6\n",
                "csv"),
    "farside_html": (farside.parse, "<html><body><table><thead><tr><th>Date</th><th>IBIT</th><th>FBTC</th><th>Total</th>"
                     "</tr></thead>\n<tr><td>05 Feb 2026</td><td>(175.3)</td><td>-12.5</td><td>(187.8)</td></tr>\n"
                     "<tr><td>06 Feb 2026<td>231.6<td>-<td>231.6\n<tr><td>Total<td>56.3<td>(12.5)<td>43.8</table>",
                     "html"),
    "treasury_sec_8k": (treasury.parse_sec_8k,
                        "as_of,aggregate_btc,aggregate_cost_usd,aggregate_avg_price_usd,period_btc_acquired,"
                        "period_cost_usd,period_avg_price_usd,sec_8k_filing_date,sec_8k_file\n"
                        "2026-02-01,713502,54260000000,76052,855,75300000,87974,2026-02-02,8k.html\n", "csv"),
    "treasury_artemis_holdings": (treasury.parse_artemis_holdings,
                                  "date,Strategy - Number of Tokens Held,Metaplanet - Number of Tokens Held\n"
                                  "2026-02-05,713502,35102\n2026-02-06,713502,\n", "csv"),
    "treasury_artemis_ev_nav": (treasury.parse_artemis_ev_nav,
                                "date,Strategy - Fully Diluted EV / Nav\n2026-02-05,1.08\n2026-02-06,0.97\n", "csv"),
    "treasury_defillama": (partial(treasury.parse_defillama_institutions, published=dt.datetime(2026, 4, 15),
                                   valued_on=dt.date(2026, 4, 13)),
                           'ticker,name,type,price,realized_mNAV,totalUsdValue,totalCost,holdings\n'
                           'MSTR,Strategy,company,132.36,1.1,5.2e10,5.4e10,"{""bitcoin"": {""amount"": 700000, '
                           '""avgPrice"": 76000, ""cost"": 53200000000, ""lastAnnouncementDate"": ""2026-04-06""}}"\n',
                           "csv"),
    "treasury_stock": (partial(treasury.parse_stock, ticker="MSTR"),
                       "date,open,high,low,close,Volume\n2026-02-05,140.5,145,128,130.2,3000000\n", "csv"),
    "citations": (citations.parse,
                  "finding,subject,value,unit,as_of,window,source,url,note\n"
                  "liquidations.total_usd,ALL,2600000000,USD,2026-02-06T00:00Z,24h,CoinGlass,"
                  "https://example.org/x,\n", "csv"),
    "binance_force_order": (binance_force_order.parse, "\n".join(json.dumps(m) for m in [
        {"e": "forceOrder", "E": T0 + 5, "o": {"s": "BTCUSDT", "S": "SELL", "ap": "62000.5", "z": "0.010", "T": T0}},
        {"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": T0 + 9,
                                               "o": {"s": "ETHUSDT", "S": "BUY", "ap": "1900.1", "z": "2.5",
                                                     "T": T0 + 4}}}]) + "\n", "jsonl"),
    "bybit_liquidation": (bybit_liquidation.parse, "\n".join(json.dumps(m) for m in [
        {"topic": "allLiquidation.BTCUSDT", "type": "snapshot", "ts": T0 + 5,
         "data": [{"T": T0, "s": "BTCUSDT", "S": "Buy", "v": "0.006", "p": "62396.9"}]},
        {"topic": "liquidation.BTCUSD", "ts": T0 + 9,
         "data": {"updatedTime": T0 + 3, "symbol": "BTCUSD", "side": "Sell", "size": "1000", "price": "62000"}}]) + "\n",
                          "jsonl"),
    "okx_liquidation": (okx_liquidation.parse, json.dumps(
        {"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
         "data": [{"instId": "BTC-USDT-SWAP", "instType": "SWAP",
                   "details": [{"bkPx": "62655.7", "sz": "8.55", "ts": str(T0), "side": "sell", "posSide": "long"}]}]})
                        + "\n", "jsonl"),
    "mempool_hashrate": (partial(mempool.parse_hashrate, complete_before=D), json.dumps(
        {"hashrates": [{"timestamp": 1770249600, "avgHashrate": 1.0e21}, {"timestamp": 1770336000, "avgHashrate": 9.9e20}],
         "difficulty": [{"time": 1770000000, "height": 935000, "difficulty": 1.4e14, "adjustment": 1.0}]}), "json"),
    "mempool_blocks": (partial(mempool.parse_day_blocks, day=dt.date(2026, 2, 6)), json.dumps(
        [{"avgHeight": 935000 + k, "timestamp": 1770336000 + 600 * k + 1, "avgFees": 2000000, "USD": 62000}
         for k in range(3)]), "json"),
    "binance_funding": (partial(binance_derivatives.parse_funding, asset="BTC", complete_before=D), json.dumps(
        [{"symbol": "BTCUSDT", "fundingTime": T0 + k * 28800000, "fundingRate": "0.00010000", "markPrice": "62000"}
         for k in range(3)]), "json"),
    "binance_open_interest": (partial(binance_derivatives.parse_open_interest, asset="BTC", complete_before=D),
                              json.dumps([{"symbol": "BTCUSDT", "sumOpenInterest": "90000",
                                           "sumOpenInterestValue": "7.2e9", "timestamp": T0}]), "json"),
    "sec_8k_html": (partial(sec_8k_html.parse, filing_date=dt.date(2026, 2, 2), document="d8k.htm"),
                    "<html><body><p>BTC Update</p><table><tr><td>Period</td><td>BTC Acquired</td>"
                    "<td>Aggregate Purchase Price (in millions)</td><td>Average Purchase Price</td>"
                    "<td>Aggregate BTC Holdings</td><td>Aggregate Purchase Price (in billions)</td>"
                    "<td>Average Purchase Price</td></tr><tr><td>1/26/2026 - 2/1/2026</td><td>855</td><td>$</td>"
                    "<td>75.3</td><td>$</td><td>87,974</td><td>713,502</td><td>$</td><td>54.26</td><td>$</td>"
                    "<td>76,052</td></tr></table></body></html>", "html"),
}

HOSTILE = ["1e308", "-1e308", "1e309", "1e-300", "4.9e-324", "inf", "-inf", "nan", "NaN", "Infinity", "95_000",
           "９５０００", "٩٥", "0x1F", " 5 ", "1,000", "", "-", "()", "(1.5)", "0", "-0", "-1", "9" * 400, "1e99999",
           "2100-01-01", "9999-12-31", "0001-01-01", "2026-02-30", "4102444800000", "-1", "A" * 100_000,
           '"', '""', "\x00", "\u202e", "\ufeff", "null", "true", "[]", "{}", "[" * 5000, "ß" * 10, "\r", "\\",
           "1" * 20, "18446744073709551616", "2026-02-06T00:00:00Z", "Extreme Fear", "BUY", "SELL"]


def hostile_json(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value of a random shape and type."""
    k = rng.randrange(12 if depth < 3 else 8)
    if k == 0:
        return None
    if k == 1:
        return rng.choice([True, False])
    if k == 2:
        return rng.choice([0, -1, 1, 2**63, 10**30, -(10**40)])
    if k == 3:
        return rng.choice([1e308, -1e308, 5e-324, float("inf"), float("-inf"), float("nan"), 62000.5, -0.0])
    if k in (4, 5, 6, 7):
        return rng.choice(HOSTILE)
    if k == 8:
        return "[" * rng.randrange(1, 3000) + "]" * rng.randrange(0, 3000)  # as a string
    if k in (9, 10):
        return [hostile_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["s", "S", "p", "v", "T", "o", "data", "ap", "z", "E", "x"]): hostile_json(rng, depth + 1)
            for _ in range(rng.randrange(4))}


def _leaves(obj: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(obj, dict):
        out = [path] if path else []
        for k, v in obj.items():
            out += _leaves(v, path + (k,))
        return out
    if isinstance(obj, list):
        out = [path] if path else []
        for i, v in enumerate(obj):
            out += _leaves(v, path + (i,))
        return out
    return [path]


def _replace(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, dict):
        return {**obj, head: _replace(obj[head], rest, value)}
    lst = list(obj)
    lst[head] = _replace(lst[head], rest, value)
    return lst


def mutate_json_line(line: str, rng: random.Random) -> str:
    """A JSON document with one leaf (or subtree) replaced by a hostile value."""
    obj = json.loads(line)
    paths = _leaves(obj) or [()]
    for _ in range(rng.randrange(1, 3)):
        obj = _replace(obj, rng.choice(paths), hostile_json(rng))
        paths = _leaves(obj) or [()]
    nested = rng.random() < 0.05
    text = json.dumps(obj, allow_nan=True)
    return "[" * 100_000 + "]" * 100_000 if nested else text


def mutate_text(text: str, kind: str, rng: random.Random) -> str:
    """One random mutation of a sample (CSV line field, JSON leaf, truncation, line shuffle, bytes)."""
    lines = text.split("\n")
    op = rng.randrange(8)
    if op == 0:  # truncate anywhere
        return text[:rng.randrange(len(text) + 1)]
    if op == 1 and len(lines) > 1:  # duplicate, drop or swap lines
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        choice = rng.randrange(3)
        if choice == 0:
            lines.insert(j, lines[i])
        elif choice == 1:
            del lines[i]
        else:
            lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines)
    if op == 2:  # random characters spliced in
        i = rng.randrange(len(text) + 1)
        junk = "".join(rng.choice(',"\n\r\t\x00;{}[]:\\ aZ9.-_＋１\u00a0') for _ in range(rng.randrange(1, 12)))
        return text[:i] + junk + text[i:]
    if kind in ("jsonl", "json"):
        idx = [i for i, l in enumerate(lines) if l.strip()]
        if idx:
            i = rng.choice(idx)
            try:
                lines[i] = mutate_json_line(lines[i], rng)
            except (ValueError, RecursionError):
                lines[i] = rng.choice(HOSTILE)
        return "\n".join(lines)
    if kind == "html":
        return text.replace(rng.choice(["855", "75.3", "87,974", "713,502", "54.26", "76,052", "1/26/2026",
                                        "(175.3)", "231.6", "06 Feb 2026", "-12.5"]),
                            rng.choice(HOSTILE), 1)
    data = [i for i, l in enumerate(lines) if l.strip()][1:] or [0]  # CSV: a field of a data line
    i = rng.choice(data)
    fields = lines[i].split(",")
    f = rng.randrange(len(fields))
    fields[f] = rng.choice(HOSTILE) if rng.random() < 0.8 else json.dumps(hostile_json(rng))
    lines[i] = ",".join(fields)
    return "\n".join(lines)


def check(name: str, text: str) -> str:
    """Run parser `name` on `text` and check the property; returns 'stored', 'refused' or 'quarantined'."""
    parser, _, kind = PARSERS[name]
    try:
        parsed = parser(text, "fuzz")
    except ParseError:
        return "refused"
    assert isinstance(parsed, Parsed), name
    stored_lines = {r.get("_line") for rows in parsed.rows.values() for r in rows}
    q_lines = {q["line"] for q in parsed.quarantine}
    accounted = len((stored_lines | q_lines) - {None}) + sum(parsed.skipped.values())
    if kind in ("csv", "jsonl", "html"):  # an HTML table row counts as a line
        assert accounted >= parsed.lines_in, (name, parsed.lines_in, stored_lines, q_lines, dict(parsed.skipped))
    for target, rows in parsed.rows.items():
        for r in rows:
            for col, v in r.items():
                if isinstance(v, float):
                    assert math.isfinite(v), (name, target, col, v)
            bounds.check(target, r)  # raises Invalid if anything out of bounds would be stored
    parsed.tables()  # the store's Arrow tables build from what was parsed
    for q in parsed.quarantine:
        assert isinstance(q["line"], int) and q["reason"], (name, q)
        json.dumps(q)
    return "quarantined" if parsed.quarantine else "stored"


def truncations(name: str) -> list[str]:
    """The sample cut at every offset (the property must hold for each)."""
    _, text, _ = PARSERS[name]
    return [text[:i] for i in range(len(text) + 1)]
