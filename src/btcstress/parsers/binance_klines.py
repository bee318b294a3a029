"""Binance kline CSVs, as in Binance's public data archive (data.binance.vision).

Columns: open_time, open, high, low, close, volume, close_time, quote_volume, count,
taker_buy_volume, taker_buy_quote_volume, ignore. The archive files have no header; copies with a
header row (any names, same order) are accepted too. Since 2025 the spot archive writes timestamps
in microseconds while USD-M futures keep milliseconds, so the unit is detected from the values:
the file's majority unit wins and a row in another unit is quarantined, never rescaled.
"""

from __future__ import annotations

import datetime as dt

from btcstress.errors import ParseError
from btcstress.parsers.common import (Invalid, csv_rows, Parsed, detect_file_unit, epoch_unit, from_epoch, ohlc, strict_float,
                                       strict_int)

COLUMNS = ["open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "trades",
           "taker_buy_volume", "taker_buy_quote_volume", "ignore"]

_UNIT_US = {"s": 10**6, "ms": 10**3, "us": 1, "ns": 10**-3}
_INTERVALS = {dt.timedelta(minutes=m): f"{m}m" for m in (1, 3, 5, 15, 30)} | {
    dt.timedelta(hours=h): f"{h}h" for h in (1, 2, 4, 6, 8, 12)} | {dt.timedelta(days=1): "1d"}


def parse(text: str, origin: str, *, venue: str, symbol: str) -> Parsed:
    """Klines of one symbol on one venue ('binance' spot or 'binance-usdm')."""
    out = Parsed(origin=origin)
    rows = [v if v is not None else ["\x00unreadable"] for _, v in csv_rows(text.splitlines())]
    if not rows:
        raise ParseError(f"{origin}: empty file")
    first_line = 1
    if rows[0] and not _is_number(rows[0][0]):
        if len(rows[0]) < 7:
            raise ParseError(f"{origin}: line 1: expected the 12 Binance kline columns, got {rows[0]}")
        rows, first_line = rows[1:], 2
    unit = detect_file_unit(r[0] for r in rows if r)
    if unit is None:
        raise ParseError(f"{origin}: no epoch timestamps found in the first column")
    for lineno, values in enumerate(rows, start=first_line):
        if not values:
            continue
        out.lines_in += 1
        raw = ",".join(values)
        try:
            out.add("candles", _row(values, unit, venue, symbol) | {"_line": lineno})
        except Invalid as exc:
            out.refuse("candles", lineno, exc, raw)
    return out


def _row(v: list[str], unit: str, venue: str, symbol: str) -> dict:
    if len(v) < 7:
        raise Invalid("*", len(v), f"row has {len(v)} fields, a kline has 12")
    rec = dict(zip(COLUMNS, v))
    opened = _epoch(rec, "open_time", unit)
    closed = _epoch(rec, "close_time", unit)
    # close_time is the last instant of the bar: open_time + interval - 1 unit.
    span = closed - opened + dt.timedelta(microseconds=max(1, _UNIT_US[unit]))
    interval = _INTERVALS.get(span)
    if interval is None:
        raise Invalid("close_time", rec["close_time"], f"bar length {span} is not a Binance interval")
    o, h, l, c = (_price(rec, k) for k in ("open", "high", "low", "close"))
    ohlc(o, h, l, c)
    return {"venue": venue, "symbol": symbol, "interval": interval, "open_time": opened, "open": o, "high": h,
            "low": l, "close": c, "volume": _num(rec, "volume"), "quote_volume": _num(rec, "quote_volume"),
            "trades": int(_num(rec, "trades")) if rec.get("trades") not in (None, "") else None}


def _epoch(rec: dict, name: str, unit: str) -> dt.datetime:
    raw = rec[name]
    try:
        value = strict_int(raw, name)
    except Invalid:
        raise Invalid(name, raw[:64], "not an integer epoch timestamp") from None
    try:
        row_unit = epoch_unit(value)
    except ValueError:
        raise Invalid(name, raw, "timestamp magnitude fits no unit (s, ms, us, ns)") from None
    if row_unit != unit:
        raise Invalid(name, raw, f"timestamp in {row_unit}, the file's timestamps are in {unit}")
    return from_epoch(value, unit)


def _price(rec: dict, name: str) -> float:
    v = _num(rec, name)
    if v <= 0:
        raise Invalid(name, rec[name], "price must be > 0")
    return v


def _num(rec: dict, name: str) -> float:
    raw = rec.get(name, "")
    v = strict_float(raw, name)
    if v < 0:
        raise Invalid(name, raw, "must be >= 0")
    return v


def _is_number(s: str) -> bool:
    try:
        strict_float(s, "open_time")
        return True
    except Invalid:
        return False
