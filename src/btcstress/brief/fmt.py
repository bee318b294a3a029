"""How numbers are written in a brief. Formatting only: no arithmetic beyond rounding for print."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from btcstress.brief.model import Fragment, Ref
from btcstress.findings import Finding
from btcstress.schema import last_published_day

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


def data_day(f: Finding) -> dt.date | None:
    """The day a finding's value is from: its detail's date or day, else its window's last day."""
    d = (f.detail.get("date") or f.detail.get("day")) if isinstance(f.detail, dict) else None
    if not d and re.match(r"\d+d:", f.window):
        d = f.window.split(":", 1)[1].split("..")[-1]  # '1d:D' or '7d:A..B': the window's last day
    try:
        return dt.date.fromisoformat(str(d)[:10]) if d else None
    except ValueError:
        return None


def older_day(f: Finding | None, as_of: dt.datetime) -> str:
    """The finding's day, written long, when it is older than the day a brief as of `as_of` describes
    (schema.last_published_day: the latest day whose daily rows are out); else ''. A sentence states the
    date of a value that old, e.g. one past the end of a daily source (brief/lint.py `stale_value`)."""
    d = data_day(f) if f is not None and f.value is not None else None
    return long_date(d) if d is not None and d < last_published_day(as_of) else ""


# Small counts are written as words in the text ("five forces", "three funds").
NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}
