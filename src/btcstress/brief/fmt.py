"""How numbers are written in a brief. Formatting only: no arithmetic beyond rounding for print."""

from __future__ import annotations

import datetime as dt
from typing import Any

from btcstress.brief.model import Fragment, Ref
from btcstress.findings import Finding

NA = "not available"


def ref(f: Finding | None, style: str = "auto", **kw: Any) -> Fragment:
    """The finding's value as printed text tied to the finding, or 'not available'."""
    if f is None or f.value is None:
        return NA
    return Ref(text=text(f.value, style if style != "auto" else f.unit, **kw), finding=f)


def text(value: Any, style: str, *, digits: int | None = None, signed: bool = False) -> str:
    if value is None:
        return NA
    if style in ("USD", "usd"):
        return usd(value, digits=digits, signed=signed)
    if style in ("usd_short", "USD_short"):
        return usd_short(value, signed=signed)
    if style == "pct":
        return pct(value, digits=1 if digits is None else digits, signed=signed)
    if style in ("BTC", "btc"):
        return f"{value:,.{digits or 0}f} BTC"
    if style == "date":
        return long_date(value)
    if isinstance(value, float):
        return f"{value:,.{2 if digits is None else digits}f}"
    return str(value)


def usd(v: float, *, digits: int | None = None, signed: bool = False) -> str:
    if abs(v) >= 1e8:
        return usd_short(v, signed=signed)
    d = digits if digits is not None else (0 if abs(v) >= 1000 else 2)
    sign = "-" if v < 0 else ("+" if signed and v > 0 else "")
    return f"{sign}${abs(v):,.{d}f}"


def usd_short(v: float, *, signed: bool = False) -> str:
    sign = "-" if v < 0 else ("+" if signed and v > 0 else "")
    a = abs(v)
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= div:
            return f"{sign}${a / div:,.{2 if a / div < 10 else 1}f}{unit}"
    return f"{sign}${a:,.0f}"


def pct(v: float, *, digits: int = 1, signed: bool = False) -> str:
    sign = "+" if signed and v > 0 else ""
    return f"{sign}{v:.{digits}f}%"


def sigma(z: float) -> str:
    """A z-score as '+1.2σ'; one that rounds to zero is '0.0σ', never '-0.0σ' or '+0.0σ'."""
    s = f"{z:+.1f}"
    return ("0.0" if s in ("+0.0", "-0.0") else s) + "σ"


def long_date(v: Any) -> str:
    if isinstance(v, str):
        try:
            v = dt.date.fromisoformat(v[:10])
        except ValueError:
            return v
    if isinstance(v, dt.datetime):
        v = v.date()
    return f"{v:%B} {v.day}, {v.year}" if isinstance(v, dt.date) else str(v)


# Small counts are written as words in the text ("five forces", "three funds").
NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}
