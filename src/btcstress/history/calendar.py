"""Calendars of instants: the materialised grid and the user's `--every`.

The grid is each UTC day's publication instant (D+1 07:00, what `--date D` means: the first instant
at which all of D's daily rows are out, schema.day_published) over the store's price history, plus
every hour's end where the store has hourly bars (from the first hourly bar's close to the last
one's). A history at `--every 1d` is on the grid; `--every 6h` is on the grid where the data is
hourly; anything else is computed, not looked up.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from btcstress.errors import InputError
from btcstress.schema import CRYPTOQUANT_LAG
from btcstress.store import utc_naive

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
DAY_END = CRYPTOQUANT_LAG  # a day's instant on the grid: 00:00 UTC + this, the next day
_UNITS = {"m": dt.timedelta(minutes=1), "h": HOUR, "d": DAY, "w": dt.timedelta(weeks=1)}


def parse_every(every: str) -> dt.timedelta:
    """'1d' -> 1 day; '6h', '15m', '1w'. At least one minute."""
    try:
        step = int(every[:-1]) * _UNITS[every[-1]]
    except (KeyError, ValueError, IndexError):
        raise InputError(f"--every {every!r}: expected a number and a unit, e.g. 1d, 6h, 15m, 1w") from None
    if step <= dt.timedelta(0):
        raise InputError(f"--every {every!r} must be positive")
    return step


def instants(start: dt.datetime, end: dt.datetime, every: str | dt.timedelta = "1d") -> list[dt.datetime]:
    """start, start+every, ... <= end (naive UTC). Daily and coarser steps snap start to a day's
    instant (DAY_END after 00:00 UTC: when the previous day's rows are published) so they land on the grid."""
    step = parse_every(every) if isinstance(every, str) else every
    start, end = utc_naive(start), utc_naive(end)
    if end < start:
        raise InputError(f"--to {end:%Y-%m-%dT%H:%MZ} is before --from {start:%Y-%m-%dT%H:%MZ}")
    if step >= DAY and not is_day_instant(start):
        day = (start - DAY_END).replace(hour=0, minute=0, second=0, microsecond=0) + DAY_END
        start = day + DAY if day < start else day
    elif step >= HOUR and start != start.replace(minute=0, second=0, microsecond=0):
        start = start.replace(minute=0, second=0, microsecond=0) + HOUR
    n = int((end - start) / step) + 1
    if n > 2_000_000:
        raise InputError(f"{n:,} instants: choose a coarser --every or a shorter range")
    return [start + i * step for i in range(n)]


def data_range(store) -> tuple[dt.datetime, dt.datetime] | None:
    """Instants a snapshot answers (Context.require_data): from the first bar's open to two days
    after the last bar's close. None for a store without price data."""
    c = store.table("candles")
    a = c.aggregate(first=c.open_time.min(), last=c.available_at.max()).execute().iloc[0]
    if a["first"] is None or pd.isna(a["first"]):
        return None
    return pd.Timestamp(a["first"]).to_pydatetime(), pd.Timestamp(a["last"]).to_pydatetime() + 2 * DAY


def grid(store, start: dt.datetime | None = None, end: dt.datetime | None = None) -> list[dt.datetime]:
    """The materialised grid within [start, end] (default: all the store's price data)."""
    rng = data_range(store)
    if rng is None:
        return []
    lo, hi = rng
    start = max(utc_naive(start), lo) if start else lo
    end = min(utc_naive(end), hi) if end else hi
    if end < start:
        return []
    days = set(instants(start, end, "1d"))
    hourly = hourly_span(store)
    if hourly:
        h0, h1 = max(hourly[0], start), min(hourly[1], end)
        if h0 <= h1:
            days |= set(instants(h0, h1, "1h"))
    return sorted(days)


def hourly_span(store) -> tuple[dt.datetime, dt.datetime] | None:
    """First and last close of any hourly bar (where the grid is hourly)."""
    c = store.table("candles")
    h = c.filter(c.interval == "1h")
    a = h.aggregate(first=h.available_at.min(), last=h.available_at.max()).execute().iloc[0]
    if a["first"] is None or pd.isna(a["first"]):
        return None
    return pd.Timestamp(a["first"]).to_pydatetime(), pd.Timestamp(a["last"]).to_pydatetime()


def is_day_instant(t: dt.datetime) -> bool:
    """t is a day's instant on the grid (DAY_END after 00:00 UTC)."""
    return t - DAY_END == (t - DAY_END).replace(hour=0, minute=0, second=0, microsecond=0)


def on_grid(t: dt.datetime, hourly: tuple[dt.datetime, dt.datetime] | None) -> bool:
    t = utc_naive(t)
    if is_day_instant(t):
        return True
    return bool(hourly) and t == t.replace(minute=0, second=0, microsecond=0) and hourly[0] <= t <= hourly[1]
