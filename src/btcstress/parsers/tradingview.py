"""TradingView chart exports: `date,open,high,low,close,...` daily bars (CRYPTOCAP indices). The
daily bar closes at 00:00 UTC, so a bar dated D is known at the end of D."""

from __future__ import annotations

from typing import Any

from btcstress.parsers.common import Invalid, Parsed, day, number, ohlc, read_csv


def parse_close(text: str, origin: str, *, target: str, value_field: str, fixed: dict[str, Any],
                bounds: tuple[float, float] | None = None) -> Parsed:
    """Validate each bar (OHLC consistency, positive) and keep its close as `value_field`."""
    out = Parsed(origin=origin)
    fields = ("open", "high", "low", "close")
    for line, row, raw in read_csv(text, origin, ("date",) + fields):
        out.lines_in += 1
        try:
            o, h, l, c = (number(row, f, positive=True) for f in fields)
            ohlc(o, h, l, c)
            if bounds and not bounds[0] <= c <= bounds[1]:
                raise Invalid("close", c, f"outside [{bounds[0]}, {bounds[1]}]")
            out.add(target, {"date": day(row, "date"), value_field: c, **fixed, "_line": line})
        except Invalid as exc:
            out.refuse(target, line, exc, raw)
    return out
