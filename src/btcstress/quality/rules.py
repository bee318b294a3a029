"""The quality rules (each documented in docs/DATA.md, "Data quality") and their refresh.

Every rule uses only rows published by the flag's own `available_at`: a brief as of T sees the flags
that an analyst could have raised at T, never one that needed later data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from btcstress import schema
from btcstress.store import Store

COMPOSITE = ("cryptoquant", "BTC-USD", "1d")
HOURLY_VENUES = ("binance", "binance-usdm")
LIVE_DAILY = (("binance", "BTCUSDT", "1d"), ("binance-usdm", "BTCUSDT", "1d"))


def series_name(venue: str, symbol: str, interval: str) -> str:
    return f"candles:{venue}/{symbol}/{interval}"


# Thresholds, chosen on the real snapshot (docs/DATA.md gives the distributions they come from).
WICK_K = 8.0  # a wick beyond every nearby open/close by > 8 x the median daily range (log) of the 30 days before
WICK_REF_DAYS = 30
WICK_SUPPORT_CLOSES = 3  # the closes of the 3 days before count as support
CROSS_TOL = 0.015  # closes of two sources may differ by 1.5% (log) ...
CROSS_K = 5.0  # ... or 5 x their median disagreement over the 90 days before, whichever is larger
CROSS_REF_DAYS = 90
STALE_MOVE = 0.0005  # a reference that moved less than 0.05% from the day before is stale: no verdict
HOURLY_TOL = 0.015  # a composite high/low beyond every hourly bar of the day by > 1.5%
HOURLY_CLOSE_TOL = 0.01  # the composite close vs the day's last hourly close
STRETCH_DAYS = 14  # a suspect stretch: >= 3 flagged days on the series within the 14 days up to t
STRETCH_MIN_FLAGS = 3
STRETCH_RANGE_K = 1.5  # and a range > 1.5 x the median range of days t-104..t-15
STRETCH_REF = (104, 15)
STRETCH_MOVE_SHARE = 0.25  # that its close-to-close move does not explain (|move| < range / 4)


@dataclass(frozen=True)
class Flag:
    series: str
    ts: dt.datetime
    field: str
    rule: str
    value: float | None
    compared: str
    reason: str
    available_at: dt.datetime
    origin: str


# -- loading -------------------------------------------------------------------------------------

def _daily(store: Store, venue: str, symbol: str, interval: str = "1d") -> pd.DataFrame:
    return store.duck.execute(
        "SELECT open_time, open, high, low, close, available_at, origin FROM candles "
        "WHERE venue = ? AND symbol = ? AND interval = ? ORDER BY open_time", [venue, symbol, interval]).df()


def _hourly_days(store: Store) -> pd.DataFrame:
    """Per UTC day with all 24 hourly bars on a Binance venue: the widest envelope over the venues
    (a wick on either supports the composite), the spot close where there is one, and when known."""
    venues = ", ".join(f"'{v}'" for v in HOURLY_VENUES)
    df = store.duck.execute(
        f"SELECT venue, date_trunc('day', open_time) AS day, max(high) AS hh, min(low) AS hl, "
        f"arg_max(close, open_time) AS hc, max(available_at) AS avail, count(*) AS n FROM candles "
        f"WHERE interval = '1h' AND venue IN ({venues}) GROUP BY ALL HAVING count(*) = 24").df()
    if df.empty:
        return pd.DataFrame(columns=["open_time", "hh", "hl", "hc", "h_avail", "h_venues"])
    df["rank"] = df.venue.map({v: i for i, v in enumerate(HOURLY_VENUES)})
    df = df.sort_values(["day", "rank"])
    out = df.groupby("day").agg(hh=("hh", "max"), hl=("hl", "min"), hc=("hc", "first"),
                                h_avail=("avail", "max"), h_venues=("venue", lambda v: "+".join(v)))
    return out.reset_index().rename(columns={"day": "open_time"})


def _implied_closes(store: Store) -> pd.DataFrame:
    """Market cap / supply per day and per cap source (scope), with when both were known."""
    return store.duck.execute(
        "SELECT CAST(m.date AS TIMESTAMP) AS open_time, m.scope, m.cap_usd / n.value AS implied, "
        "greatest(m.available_at, n.available_at) AS avail, m.origin FROM market_cap_daily m "
        "JOIN network_daily n ON n.date = m.date AND n.metric = 'supply_btc' "
        "WHERE m.scope IN ('btc', 'btc_implied') AND n.value > 0 ORDER BY m.scope, m.date").df()


# -- rules ---------------------------------------------------------------------------------------

def wick_unsupported(d: pd.DataFrame, series: str) -> list[Flag]:
    """A high (low) beyond its own open/close and the closes of the 3 days before by more than
    WICK_K times the median daily range of the 30 days before."""
    if len(d) < 10:
        return []
    lr = np.log(d.high / d.low)
    ref = lr.shift().rolling(WICK_REF_DAYS, min_periods=10).median()
    top, bottom = np.maximum(d.open, d.close), np.minimum(d.open, d.close)
    for k in range(1, WICK_SUPPORT_CLOSES + 1):
        top = np.fmax(top, d.close.shift(k))
        bottom = np.fmin(bottom, d.close.shift(k))
    out = []
    for field, excess, support in (("high", np.log(d.high / top), top), ("low", np.log(bottom / d.low), bottom)):
        hit = (excess > WICK_K * ref) & (ref > 0)
        for i in np.flatnonzero(hit.to_numpy()):
            r = d.iloc[i]
            out.append(Flag(series, _py(r.open_time), field, "wick_unsupported", float(r[field]),
                            f"nearest supporting open/close {support.iloc[i]:,.2f}; median daily range of the "
                            f"{WICK_REF_DAYS} days before {ref.iloc[i]:.2%} (log)",
                            f"the {field} lies {excess.iloc[i]:.1%} beyond the day's open/close and the 3 closes "
                            f"before, {excess.iloc[i] / ref.iloc[i]:.1f} x the usual daily range (limit {WICK_K:g} x)",
                            _py(r.available_at), str(r.origin)))
    return out


def close_cross_source(d: pd.DataFrame, caps: pd.DataFrame, series: str) -> list[Flag]:
    """The close against market cap / supply of each cap source, for days where both exist and the
    reference moved (a frozen reference says nothing)."""
    out = []
    for scope, ref in caps.groupby("scope"):
        ref = ref.sort_values("open_time").reset_index(drop=True)
        ref["ref_move"] = np.log(ref.implied / ref.implied.shift()).abs()
        m = d.merge(ref, on="open_time", how="inner")
        if m.empty:
            continue
        dev = np.log(m.close / m.implied)
        usual = dev.abs().shift().rolling(CROSS_REF_DAYS, min_periods=20).median()
        limit = np.fmax(CROSS_TOL, CROSS_K * usual.fillna(0))
        hit = (dev.abs() > limit) & (m.ref_move > STALE_MOVE)
        label = "CryptoQuant market cap" if scope == "btc" else "TradingView-derived BTC market cap"
        for i in np.flatnonzero(hit.to_numpy()):
            r = m.iloc[i]
            out.append(Flag(series, _py(r.open_time), "close", "close_cross_source", float(r.close),
                            f"{label} / supply = {r.implied:,.2f} ({r.origin_y})",
                            f"the close differs by {dev.iloc[i]:+.1%} from {label.lower()} / supply "
                            f"(limit {limit.iloc[i]:.1%}: {CROSS_TOL:.1%} or {CROSS_K:g} x the usual gap)",
                            max(_py(r.available_at), _py(r.avail)), str(r.origin_x)))
    return out


def range_vs_hourly(d: pd.DataFrame, h: pd.DataFrame, series: str) -> list[Flag]:
    """A daily high/low that no Binance hourly bar of that UTC day reached (within HOURLY_TOL), and a
    daily close away from the day's last hourly close (HOURLY_CLOSE_TOL)."""
    m = d.merge(h, on="open_time", how="inner")
    out = []
    checks = (("high", np.log(m.high / m.hh), m.hh, HOURLY_TOL, "highest hourly high"),
              ("low", np.log(m.hl / m.low), m.hl, HOURLY_TOL, "lowest hourly low"),
              ("close", np.log(m.close / m.hc).abs(), m.hc, HOURLY_CLOSE_TOL, "last hourly close"))
    for field, excess, ref, tol, what in checks:
        for i in np.flatnonzero((excess > tol).to_numpy()):
            r = m.iloc[i]
            out.append(Flag(series, _py(r.open_time), field, "vs_hourly_bars", float(r[field]),
                            f"{what} {ref.iloc[i]:,.2f} (Binance {r.h_venues}, 24 bars)",
                            f"the {field} is {excess.iloc[i]:.1%} beyond the {what} of the day on Binance "
                            f"(limit {tol:.1%})", max(_py(r.available_at), _py(r.h_avail)), str(r.origin)))
    return out


def close_vs_daily(d: pd.DataFrame, other: pd.DataFrame, label: str, series: str) -> list[Flag]:
    """The composite close against another venue's daily kline close (live Binance 1d)."""
    m = d.merge(other[["open_time", "close", "available_at"]], on="open_time", how="inner", suffixes=("", "_o"))
    dev = np.log(m.close / m.close_o).abs()
    return [Flag(series, _py(r.open_time), "close", "close_vs_daily_kline", float(r.close),
                 f"{label} close {r.close_o:,.2f}",
                 f"the close differs by {dev.iloc[i]:.1%} from {label} (limit {HOURLY_CLOSE_TOL:.1%})",
                 max(_py(r.available_at), _py(r.available_at_o)), str(r.origin))
            for i, r in enumerate(m.itertuples()) if dev.iloc[i] > HOURLY_CLOSE_TOL]


def range_in_suspect_stretch(d: pd.DataFrame, h: pd.DataFrame, earlier: list[Flag], series: str) -> list[Flag]:
    """A day's range that nothing can verify (no hourly bars), wide against the series' own range
    before the stretch, not explained by its close-to-close move, while the series was caught by
    other rules on at least 3 of the 14 days up to it: the source was unreliable right then."""
    if not earlier or len(d) < STRETCH_REF[0]:
        return []
    lr = np.log(d.high / d.low)
    ref = lr.shift(STRETCH_REF[1]).rolling(STRETCH_REF[0] - STRETCH_REF[1], min_periods=30).median()
    move = np.log(d.close / d.close.shift()).abs()
    hourly = set(pd.to_datetime(h.open_time)) if len(h) else set()
    flagged = pd.DataFrame([(pd.Timestamp(f.ts), f.available_at) for f in earlier], columns=["at", "avail"])
    out = []
    for i in np.flatnonzero(((lr > STRETCH_RANGE_K * ref) & (ref > 0) & (move < STRETCH_MOVE_SHARE * lr)).to_numpy()):
        r = d.iloc[i]
        t = pd.Timestamp(r.open_time)
        if t in hourly:
            continue
        near = flagged[(flagged["at"] <= t) & (flagged["at"] > t - pd.Timedelta(days=STRETCH_DAYS))]
        if len(near.drop_duplicates("at")) < STRETCH_MIN_FLAGS:
            continue
        avail = max(_py(r.available_at), *(x.to_pydatetime() for x in near.avail))
        days = ", ".join(sorted({str(a.date()) for a in near["at"]}))
        for field in ("high", "low"):
            out.append(Flag(series, _py(r.open_time), field, "range_in_suspect_stretch", float(r[field]),
                            f"range {lr.iloc[i]:.1%} vs median {ref.iloc[i]:.1%} of days t-104..t-15; "
                            f"close-to-close move {move.iloc[i]:.1%}; flagged days {days}",
                            f"the day's range ({lr.iloc[i]:.1%}) is {lr.iloc[i] / ref.iloc[i]:.1f} x the series' "
                            f"usual range, its close moved only {move.iloc[i]:.1%}, no hourly bars can verify it, "
                            f"and the series failed other checks on {len(near.drop_duplicates('at'))} of the "
                            f"{STRETCH_DAYS} days up to it", avail, str(r.origin)))
    return out


PRICE_RULES = {
    "wick_unsupported": wick_unsupported.__doc__,
    "close_cross_source": close_cross_source.__doc__,
    "vs_hourly_bars": range_vs_hourly.__doc__,
    "close_vs_daily_kline": close_vs_daily.__doc__,
    "range_in_suspect_stretch": range_in_suspect_stretch.__doc__,
}


# -- running -------------------------------------------------------------------------------------

def compute(store: Store) -> list[Flag]:
    """Every rule over the store's current rows."""
    d = _daily(store, *COMPOSITE)
    if d.empty:
        return []
    series = series_name(*COMPOSITE)
    h = _hourly_days(store)
    flags = wick_unsupported(d, series) + close_cross_source(d, _implied_closes(store), series)
    flags += range_vs_hourly(d, h, series)
    for venue, symbol, interval in LIVE_DAILY:
        other = _daily(store, venue, symbol, interval)
        if len(other):
            flags += close_vs_daily(d, other, f"Binance {venue} {symbol} daily kline", series)
    flags += range_in_suspect_stretch(d, h, flags, series)
    return flags


def compute_all(store: Store) -> list[Flag]:
    """The composite price's rules (above) and every other series' (series_rules.py)."""
    from btcstress.quality import series_rules
    return compute(store) + series_rules.compute(store)


def refresh(store: Store) -> int:
    """Recompute the quality table (derived: replaced whole, in the caller's transaction)."""
    flags = compute_all(store)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with store.transaction():
        store.duck.execute('DELETE FROM "quality"')
        if flags:
            rows = pa.Table.from_pylist([{**f.__dict__, "ingested_at": now} for f in flags],
                                        schema=schema.QUALITY.arrow_schema())
            store.duck.register("_quality_new", rows)
            try:
                store.duck.execute('INSERT INTO "quality" SELECT * FROM _quality_new')
            finally:
                store.duck.unregister("_quality_new")
    return len(flags)


def suspect_flags(store_or_ctx, series: str, *, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Flags on a series known by as_of (a Context carries its own as-of)."""
    t = store_or_ctx.table("quality") if as_of is None else store_or_ctx.table("quality", as_of)
    return t.filter(t.series == series).execute()


def _py(ts) -> dt.datetime:
    return pd.Timestamp(ts).to_pydatetime()
