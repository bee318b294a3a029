"""Binance USD-M REST payloads for the derivatives state: funding rate history and open interest
history (pure parsers; the fetch lives in btcstress.connectors.binance).

- `GET /fapi/v1/fundingRate` (Binance USD-M docs, "Get Funding Rate History"): a JSON array of
  `{"symbol","fundingTime" (ms),"fundingRate" (a fraction, "0.00010000" = 0.01 %),"markPrice"}`,
  one per funding event (every 8 h, 4 h for some symbols at times). Stored per UTC day as the mean
  of that day's rates, in percent per funding interval (the unit of derivatives_daily), only for days
  that are over (`complete_before`), so a day is never stored half-seen.
- `GET /futures/data/openInterestHist` ("Open Interest Statistics"): a JSON array of
  `{"symbol","sumOpenInterest" (coins),"sumOpenInterestValue" (USD),"timestamp" (ms)}`; with
  period=1d, one snapshot per day. Stored as that UTC day's open_interest_usd (published at the end
  of the day, the table's rule: never earlier than the snapshot). Binance keeps only the last 30 days.
Coverage: Binance USD-M only (one exchange), unlike the all-exchange CryptoQuant series; the origin
says so.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

from btcstress.errors import ParseError
from btcstress.parsers.common import Invalid, Parsed, strict_float
from btcstress.parsers.liquidation_feed import millis

TARGET = "derivatives_daily"


def _array(text: str, origin: str) -> list:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ParseError(f"{origin}: not JSON ({getattr(exc, 'msg', 'nested too deeply')})") from None
    if not isinstance(data, list):
        raise ParseError(f"{origin}: expected a JSON array, got {type(data).__name__}")
    return data


def _num(obj: dict, name: str, *, positive: bool = False) -> float:
    raw = obj.get(name) if isinstance(obj, dict) else None
    v = strict_float(raw, name)
    if positive and v <= 0:
        raise Invalid(name, raw, "must be > 0")
    return v


def parse_funding(text: str, origin: str, *, asset: str, complete_before: dt.date) -> Parsed:
    """Funding events -> one derivatives_daily row per complete UTC day (mean rate, percent)."""
    out = Parsed(origin=origin)
    by_day: dict[dt.date, list[float]] = defaultdict(list)
    first_line: dict[dt.date, int] = {}
    for i, item in enumerate(_array(text, origin), start=1):
        out.lines_in += 1
        try:
            if not isinstance(item, dict):
                raise Invalid("*", item, "expected a JSON object")
            ts = millis(item, "fundingTime", "fundingTime")
            rate = _num(item, "fundingRate")
            if abs(rate) > 0.05:  # Binance caps BTCUSDT funding at 2 % per interval (0.02 would be extreme)
                raise Invalid("fundingRate", item.get("fundingRate"), "more than 5 % per interval: not a fraction?")
        except Invalid as exc:
            out.refuse(TARGET, i, exc, item)
            continue
        d = ts.date()
        if d >= complete_before:
            out.skip("funding of a day not over yet")
            continue
        by_day[d].append(rate)
        first_line.setdefault(d, i)
    for d, rates in sorted(by_day.items()):
        out.add(TARGET, {"date": d, "asset": asset, "funding_rate_pct": 100.0 * sum(rates) / len(rates),
                         "_line": first_line[d]})
    return out


def parse_open_interest(text: str, origin: str, *, asset: str, complete_before: dt.date) -> Parsed:
    """Daily open-interest snapshots -> derivatives_daily open_interest_usd per UTC day."""
    out = Parsed(origin=origin)
    for i, item in enumerate(_array(text, origin), start=1):
        out.lines_in += 1
        try:
            if not isinstance(item, dict):
                raise Invalid("*", item, "expected a JSON object")
            ts = millis(item, "timestamp", "timestamp")
            value = _num(item, "sumOpenInterestValue", positive=True)
        except Invalid as exc:
            out.refuse(TARGET, i, exc, item)
            continue
        if ts.date() >= complete_before:
            out.skip("open interest of a day not over yet")
            continue
        out.add(TARGET, {"date": ts.date(), "asset": asset, "open_interest_usd": value, "_line": i})
    return out
