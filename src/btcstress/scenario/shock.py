"""Parsing the scenario's price inputs: --price, --shock and --ladder. Bad input is an InputError
(exit code 2) that says what was expected."""

from __future__ import annotations

import math
import re

from btcstress.errors import InputError

_NUM = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*%?\s*$")


def parse_shock(text: str, flag: str = "--shock") -> float:
    """'-20%', '-20', '+5%' -> percent. Below -100% (or exactly -100%: a zero price) is refused."""
    m = _NUM.match(str(text))
    if not m:
        raise InputError(f"{flag} {text!r}: expected a percent change such as -20% or -7.5")
    v = float(m.group(1))
    if not math.isfinite(v):
        raise InputError(f"{flag} {text!r}: not a finite number")
    if v <= -100.0:
        raise InputError(f"{flag} {text.strip()}: a fall of 100% or more leaves no positive price; give a shock above -100%")
    return v


def parse_ladder(text: str) -> list[float]:
    """'-10,-20,-30' (percent signs optional) -> [-10.0, -20.0, -30.0]."""
    parts = [x for x in str(text).split(",") if x.strip()]
    if not parts:
        raise InputError(f"--ladder {text!r}: expected comma-separated shocks such as -10,-20,-30")
    return [parse_shock(x, "--ladder") for x in parts]


def check_price(price: float) -> float:
    if price is None or not math.isfinite(price) or not price > 0:
        raise InputError(f"--price must be a positive number of USD, got {price}")
    return float(price)


def shocked_price(current: float, shock_pct: float) -> float:
    return check_price(current * (1.0 + shock_pct / 100.0))
