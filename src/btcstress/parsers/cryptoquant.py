"""CryptoQuant CSV exports: `date,<metric>` daily series and the `date,Open,High,Low,Close,Volume`
price file. Days are UTC; a row dated D is public from D+1 07:00 UTC (schema.day_published). Rows before a series starts carry blanks (prices before 2010-07) or zeros
(market cap before there was a price): they are not observations and are skipped, counted."""

from __future__ import annotations

from typing import Any

from btcstress.schema import day_published
from btcstress.parsers.common import Invalid, Parsed, check_width, day, number, ohlc, read_csv


def parse_ohlcv(text: str, origin: str, *, symbol: str = "BTC-USD") -> Parsed:
    """The all-exchange volume-weighted daily price -> candles (venue 'cryptoquant', interval '1d')."""
    out = Parsed(origin=origin)
    fields = ("Open", "High", "Low", "Close")
    for line, row, raw in read_csv(text, origin, ("date",) + fields + ("Volume",)):
        out.lines_in += 1
        try:
            # A blank price row is only "no price yet" when the line itself is well formed (its width
            # and date); garbage with empty fields is quarantined like any malformed line.
            check_width(row, 6)
            d = day(row, "date")
            if all(row.get(f, "") == "" for f in fields) and row.get("Volume", "") in ("", "0", "0.0"):
                out.skip("no price yet (blank OHLC)")
                continue
            o, h, l, c = (number(row, f, positive=True) for f in fields)
            ohlc(o, h, l, c)
            out.add("candles", {"venue": "cryptoquant", "symbol": symbol, "interval": "1d",
                                "open_time": _midnight(d), "open": o, "high": h, "low": l,
                                "close": c, "volume": number(row, "Volume", non_negative=True, optional=True),
                                "quote_volume": None, "trades": None,
                                "available_at": day_published(d), "_line": line})
        except Invalid as exc:
            out.refuse("candles", line, exc, raw)
    return out


def parse_series(text: str, origin: str, *, target: str, value_field: str, fixed: dict[str, Any],
                 column: str | None = None, positive: bool = False, non_negative: bool = False,
                 zero_is_empty: bool = False, scale: float = 1.0) -> Parsed:
    """A `date,<metric>` file -> one row per day in `target`: {date, value_field: value, **fixed}.

    `column` defaults to the file's second column. `zero_is_empty` treats 0 as "series not started"
    (only for quantities that cannot be zero once they exist, such as a market cap). `scale`
    converts units (e.g. GH/s -> H/s) and is recorded by the caller in its docs.
    """
    out = Parsed(origin=origin)
    header = text.split("\n", 1)[0].strip().split(",")
    column = column or (header[1].strip() if len(header) > 1 else "value")
    for line, row, raw in read_csv(text, origin, ("date", column)):
        out.lines_in += 1
        try:
            check_width(row, len(header))
            d = day(row, "date")
            if row.get(column, "") == "":
                out.skip("blank value")
                continue
            v = number(row, column, positive=positive and not zero_is_empty, non_negative=non_negative)
            if zero_is_empty and v == 0:
                out.skip("zero before the series starts")
                continue
            if positive and v <= 0:
                raise Invalid(column, row[column], "must be > 0")
            out.add(target, {"date": d, value_field: v * scale, **fixed, "available_at": day_published(d),
                             "_line": line})
        except Invalid as exc:
            out.refuse(target, line, exc, raw)
    return out


def _midnight(d):
    import datetime as dt
    return dt.datetime(d.year, d.month, d.day)
