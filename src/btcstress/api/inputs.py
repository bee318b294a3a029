"""Request strings parsed into typed values (instants, prices, ids); limits on what one request may ask."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Callable

from fastapi import Query

from btcstress import config as cfg
from btcstress.api.errors import ApiError
from btcstress.errors import InputError

MAX_IDS = 100
MAX_PRICE = 10_000_000.0  # USD: above this a "price" is a typo, not a scenario
MAX_SERIES_SPAN = dt.timedelta(days=3700)  # about ten years: a larger from..to range is refused
ID_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.?$")
SERIES_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$")
MAX_BODY = 1_000_000  # bytes of claims per POST /check
MAX_CLAIMS = 500
MAX_INSTANTS = 31  # distinct instants one request may make the server compute findings at
CLAIMS_EXAMPLE = ("claim_id,finding_id,subject,comparator,value,unit,as_of,window,quote\n"
                  "c1,price.low_24h_usd,BTC,approx,60000,USD,2026-02-06,24h,Bitcoin touched $60,000\n")

AS_OF_Q = Query(None, description="UTC instant, e.g. 2026-02-06T08:00Z; a bare date = end of that UTC day; "
                                  "omitted = the latest data in the store (the answer's as_of_basis says so)",
                max_length=64)
PRICE_Q = Query(None, gt=0, le=MAX_PRICE, description="re-value price-dependent findings at this hypothetical "
                                                      "USD price (they come back with hypothetical=true)")


def instant(text: str | None, name: str = "as_of", *, bare_date: str = "end",
            latest: Callable[[], dt.datetime] | None = None) -> dt.datetime:
    """An ISO instant (no zone means UTC); a bare date means the end of that day (or its start).
    Omitted: `latest()` (the latest data in the store), else now."""
    if text is None or not text.strip():
        if latest is not None:
            return latest()
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    try:
        if bare_date == "start" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            d = dt.date.fromisoformat(text.strip())
            if not cfg.EARLIEST_YEAR <= d.year <= cfg.LATEST_YEAR:
                raise InputError(f"{text!r} out of range: years {cfg.EARLIEST_YEAR}..{cfg.LATEST_YEAR}")
            return dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc)
        t = cfg.parse_instant(text)
        t.astimezone(dt.timezone.utc).replace(tzinfo=None)  # out-of-range instants fail here, not later
        return t
    except InputError as exc:
        raise ApiError(400, "bad_request", f"{name}: {exc}") from None
    except (OverflowError, ValueError):
        raise ApiError(400, "bad_request", f"{name}: {text!r} is out of range (use e.g. 2026-02-06T08:00Z)") from None


def positive_price(price: float | None) -> float | None:
    if price is None:
        return None
    if not math.isfinite(price) or price <= 0:
        raise ApiError(400, "bad_request", f"price must be a positive number of USD, got {price}")
    if price > MAX_PRICE:
        raise ApiError(400, "bad_request", f"price {price:,.0f} is above the {MAX_PRICE:,.0f} USD limit")
    return float(price)
