"""Price findings: the trailing 24 h on the primary market, the last complete UTC day, the all-time
high and drawdown, "lowest since", and the named events the price is back below.

The primary market is the first of MARKETS with a bar closed within `stale_after` of T (Binance
BTCUSDT spot, then the USD-M perpetual, then CryptoQuant's all-exchange daily composite), on its
finest current interval (1m before 1h before 1d). Daily history (ATH, lowest-since, event closes, volatility) comes from the composite,
the longest series.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from btcstress.findings import Finding, Series, Source, not_available
from btcstress.metrics.context import Context, source
from btcstress.metrics.price_bars import bars, marked, raw_bars, suspect_note  # noqa: F401 (bars: the area's API)
from btcstress.store import interval_length

# (venue, symbol, label), in order of preference; on each, the finest fresh interval wins.
MARKETS = (
    ("binance", "BTCUSDT", "Binance BTCUSDT spot"),
    ("binance-usdm", "BTCUSDT", "Binance USD-M BTCUSDT perpetual"),
    ("cryptoquant", "BTC-USD", "CryptoQuant all-exchange BTC-USD composite"),
)
# The daily history (ATH, lowest-since, event closes, daily moves): the first with bars by T. The
# composite is the longest series; a live-only store has Binance's daily klines instead.
DAILY_MARKETS = (
    ("cryptoquant", "BTC-USD", "1d", "CryptoQuant all-exchange BTC-USD composite, daily bars"),
    ("binance", "BTCUSDT", "1d", "Binance BTCUSDT spot, daily bars"),
    ("binance-usdm", "BTCUSDT", "1d", "Binance USD-M BTCUSDT perpetual, daily bars"),
)
DAY = dt.timedelta(days=1)

HISTORY_NEEDS: tuple[str, ...] = ()
DEFAULTS = {"ath_scope": "composite daily highs plus primary-market bars since"}


@dataclass
class Market:
    venue: str
    symbol: str
    interval: str
    label: str


def daily_market(ctx: Context) -> tuple[str, str, str, str]:
    """The daily-bar series that serves as price history at T (see DAILY_MARKETS)."""
    c = ctx.table("candles")
    d = c.filter(c.interval == "1d")
    present = {(r.venue, r.symbol) for r in d.select("venue", "symbol").distinct().execute().itertuples()}
    return next((m for m in DAILY_MARKETS if m[:2] in present), DAILY_MARKETS[0])


def stale_after(interval: str) -> dt.timedelta:
    """How old a market's last bar may be for it to still count as current."""
    length = interval_length(interval)
    return 2 * DAY if length >= DAY else max(2 * length, dt.timedelta(hours=2))


def primary_market(ctx: Context) -> Market | None:
    """The first market in MARKETS with a current bar; on it, the finest interval that is current."""
    c = ctx.table("candles")
    for venue, symbol, label in MARKETS:
        m = c.filter((c.venue == venue) & (c.symbol == symbol))
        lasts = m.group_by("interval").aggregate(last=m.available_at.max()).execute()
        fresh = [(interval_length(r.interval), r.interval) for r in lasts.itertuples()
                 if ctx.as_of_naive - pd.Timestamp(r.last).to_pydatetime() <= stale_after(r.interval)]
        if fresh:
            interval = min(fresh)[1]
            return Market(venue, symbol, interval, f"{label}, {interval} bars")
    return None


def findings(ctx: Context) -> list[Finding]:
    ctx.area_params("price", DEFAULTS)
    out: list[Finding] = []
    market = primary_market(ctx)
    out += _trailing_24h(ctx, market)
    ctx.observed_price = next((f for f in out if f.id == "price.last_usd" and f.value is not None), None)
    out += _last_day(ctx)
    out += _ath(ctx, market)
    out += _lowest_since(ctx, next((f for f in out if f.id == "price.low_24h_usd"), None))
    out += _below_events(ctx)
    return out


# -- trailing 24 h --------------------------------------------------------------------------------

# A gap in the primary market's bars (the composite has no rows for 2023-11-21..22): none closed in the
# 24 h to T although the market still counts as current (stale_after), so nothing is "the last 24 h".
NO_BAR_24H = "no bar of the primary market closed in the 24 h to as-of (a gap in its data)"


def _trailing_24h(ctx: Context, market: Market | None) -> list[Finding]:
    ids = ("price.last_usd", "price.low_24h_usd", "price.high_24h_usd", "price.change_24h_pct",
           "price.max_drop_24h_pct")
    if market is None:
        return [not_available(i, ctx.as_of, "no market has a bar closed in the last two days before as-of",
                              unit="USD" if i.endswith("usd") else "pct", window="24h") for i in ids]
    b = bars(ctx, market.venue, market.symbol, market.interval)
    # Bars that closed in (T-24h, T]; for daily bars that is the last complete day.
    w = b.filter(b.available_at > ctx.as_of_naive - DAY)
    running_high = w.high.max().over(ibis.window(order_by=w.open_time, preceding=None, following=0))
    w = w.mutate(drop=w.low / running_high - 1).order_by("open_time")
    win = w.execute()
    if not len(win):  # the market is current (a bar within stale_after) but its last day is missing
        return [not_available(i, ctx.as_of, NO_BAR_24H, unit="USD" if i.endswith("usd") else "pct", window="24h")
                for i in ids]
    last = win.iloc[-1]
    window = "24h" if market.interval != "1d" else f"1d:{pd.Timestamp(last.open_time).date()}"
    src = source("candles", win, time_col="open_time", note=market.label)
    common = dict(as_of=ctx.as_of, window=window, sources=[src], params={"market": market.label})
    notes = sorted({n for n in (suspect_note(r) for r in win.to_dict("records")) if n})
    last_note = suspect_note(last.to_dict()) if bool(last.q_close) else None
    out = [
        Finding(id="price.last_usd", value=float(last.close), unit="USD",
                method="close of the last bar closed by as-of on the primary market", note=last_note,
                detail={"bar_open": _iso(last.open_time), "bar_close": _iso(last.available_at),
                        "market": market.label, **({"suspect": last_note} if last_note else {})}, **common),
    ]
    if win.low.isna().any() or win.high.isna().any() or win["drop"].isna().all():
        reason = "; ".join(notes) or "a bar in the window has no high or low"
        return out + [not_available(i, ctx.as_of, reason, unit=u, window=window) for i, u in (
            ("price.low_24h_usd", "USD"), ("price.high_24h_usd", "USD"), ("price.max_drop_24h_pct", "pct"))] \
            + _change_24h(ctx, b, last, src, common, window)
    note = "; ".join(notes) or None
    common = {**common, "note": note}
    low_bar = win.loc[win.low.idxmin()]
    high_bar = win.loc[win.high.idxmax()]
    drop_bar = win.loc[win["drop"].idxmin()]
    peak = win[win.open_time <= drop_bar.open_time]
    peak_bar = peak.loc[peak.high.idxmax()]
    out += [
        Finding(id="price.low_24h_usd", value=float(low_bar.low), unit="USD",
                method="lowest low of the bars that closed in the trailing 24 h",
                detail={"bar_open": _iso(low_bar.open_time)}, **common),
        Finding(id="price.high_24h_usd", value=float(high_bar.high), unit="USD",
                method="highest high of the bars that closed in the trailing 24 h",
                detail={"bar_open": _iso(high_bar.open_time)}, **common),
        Finding(id="price.max_drop_24h_pct", value=float(drop_bar["drop"]) * 100, unit="pct",
                method="largest fall from a running high to a later (or same-bar) low within the trailing 24 h: "
                       "min over bars of low / max(high so far) - 1",
                detail={"from_high": float(peak_bar.high), "from_bar": _iso(peak_bar.open_time),
                        "to_low": float(drop_bar.low), "to_bar": _iso(drop_bar.open_time)}, **common),
    ]
    return out + _change_24h(ctx, b, last, src, {**common, "note": None}, window)


def _change_24h(ctx: Context, b: ibis.Table, last, src: Source, common: dict, window: str) -> list[Finding]:
    # The close 24 h before the last close: the last bar closed by then.
    ref = b.filter(b.available_at <= pd.Timestamp(last.available_at).to_pydatetime() - DAY) \
           .order_by(ibis.desc("open_time")).limit(1).execute()
    if not len(ref):
        return [not_available("price.change_24h_pct", ctx.as_of, "no bar 24 h before the last one",
                              unit="pct", window=window)]
    r = ref.iloc[0]
    suspect = "; ".join(n for n in (suspect_note(x) for x in (last.to_dict(), r.to_dict())
                                    if bool(x.get("q_close"))) if n) or None
    return [Finding(
        id="price.change_24h_pct", value=(float(last.close) / float(r.close) - 1) * 100, unit="pct",
        method="last close / close of the bar that closed 24 h earlier - 1",
        detail={"from_close": float(r.close), "from_bar_close": _iso(r.available_at),
                **({"suspect": suspect} if suspect else {})},
        **{**common, "note": suspect, "sources": [src, source("candles", ref, time_col="open_time", note=src.note)]})]


# -- last complete UTC day ------------------------------------------------------------------------

def daily(ctx: Context, market: tuple[str, str, str, str] | None = None) -> ibis.Table:
    """The daily history's bars known by T, with the previous close and daily return."""
    d = bars(ctx, *(market or daily_market(ctx))[:3])
    order = ibis.window(order_by=d.open_time)
    d = d.mutate(prev_close=d.close.lag().over(order))
    return d.mutate(ret=d.close / d.prev_close - 1)


def _last_day(ctx: Context) -> list[Finding]:
    composite = daily_market(ctx)
    d = daily(ctx, composite)
    # The last day and the day before it, in one query.
    m = d.open_time.max()
    near = d.filter((d.open_time == m) | (d.open_time == m - ibis.interval(days=1))).execute()
    if not len(near):
        return [not_available(i, ctx.as_of, "no complete day of daily bars by as-of", unit=u, window="1d")
                for i, u in (("price.close_usd", "USD"), ("price.low_usd", "USD"), ("price.high_usd", "USD"),
                             ("price.change_1d_pct", "pct"))]
    last_day = pd.Timestamp(near.open_time.max()).to_pydatetime()
    rows = near[near.open_time == last_day].reset_index(drop=True)
    row = rows.iloc[0]
    # How unusual the day's return is: z-score against the trailing 365 days and percentile over
    # history, in one query (each statistic over its own rows, as FILTER clauses).
    hist = d.filter(d.ret.notnull() & (d.open_time < last_day))
    in_year = hist.open_time >= last_day - 365 * DAY
    agg = hist.aggregate(mean=hist.ret.mean(where=in_year), std=hist.ret.std(where=in_year),
                         n=hist.count(where=in_year), total=hist.count(), first=hist.open_time.min(),
                         below=hist.count(where=hist.ret <= float(row.ret)) if pd.notna(row.ret) else ibis.literal(0)
                         ).execute().iloc[0]
    stats = agg[["mean", "std", "n"]]
    below, total = int(agg["below"]), int(agg["total"])
    window = f"1d:{last_day.date()}"
    src = source("candles", rows, time_col="open_time", note=composite[3])
    note = suspect_note(row.to_dict())
    common = dict(as_of=ctx.as_of, window=window, sources=[src], detail={"date": str(last_day.date())})
    out = [Finding(id="price.close_usd", value=float(row.close), unit="USD", method="daily close (00:00 UTC)",
                   **marked(common, note if bool(row.q_close) else None))]
    for fid, field in (("price.low_usd", "low"), ("price.high_usd", "high")):
        if pd.isna(row[field]):
            out.append(not_available(fid, ctx.as_of, note, unit="USD", window=window))
        else:
            out.append(Finding(id=fid, value=float(row[field]), unit="USD", method=f"daily {field}",
                               **marked(common, note if bool(row[f"q_{field}"]) else None)))
    if pd.notna(row.ret):
        z = (float(row.ret) - stats["mean"]) / stats["std"] if stats["std"] else None
        prev = near[near.open_time == last_day - DAY]
        close_note = "; ".join(n for n in [note if bool(row.q_close) else None]
                               + [suspect_note(p) for p in prev.to_dict("records") if bool(p["q_close"])] if n)
        out.append(Finding(
            id="price.change_1d_pct", value=float(row.ret) * 100, unit="pct",
            method="day's close / previous day's close - 1", **marked(common, close_note or None),
            unusual={"zscore": None if z is None else round(z, 2),
                     "percentile": round(100 * below / total, 2) if total else None,
                     "n": int(stats["n"]), "percentile_n": int(total),
                     "history": f"daily returns: z vs trailing 365 days ({int(stats['n'])}), percentile vs all "
                                f"{total} days since {str(agg['first'])[:10]}"}))
    else:
        out.append(not_available("price.change_1d_pct", ctx.as_of, "no previous day", unit="pct", window=window))
    return out


# -- all-time high and drawdown -------------------------------------------------------------------

def _ath(ctx: Context, market: Market | None) -> list[Finding]:
    composite = daily_market(ctx)
    d = bars(ctx, *composite[:3])
    top = d.order_by([ibis.desc("high"), "open_time"]).limit(1).execute()
    if not len(top):
        return [not_available(i, ctx.as_of, "no daily price history by as-of", unit=u, window="all")
                for i, u in (("price.ath_usd", "USD"), ("price.ath_date", "date"), ("price.drawdown_from_ath_pct", "pct"))]
    ath, ath_time = float(top.high.iloc[0]), pd.Timestamp(top.open_time.iloc[0]).to_pydatetime()
    span = d.aggregate(n=d.count(), first=d.open_time.min(), last=d.open_time.max()).execute().iloc[0]
    sources = [Source(table="candles", origin=str(top.origin.iloc[0]), rows=int(span["n"]),
                      first=pd.Timestamp(span["first"]).to_pydatetime(),
                      last=pd.Timestamp(span["last"]).to_pydatetime(), note=composite[3])]
    # Bars of the primary market after the composite's last day may have set a newer high.
    if market is not None and market.interval != "1d":
        # The composite's last bar ends a day after it opens; its publication (D+1 07:00 for CryptoQuant)
        # is later, and the primary market's bars in between count too.
        since = pd.Timestamp(span["last"]).to_pydatetime() + DAY
        p = bars(ctx, market.venue, market.symbol, market.interval)
        p = p.filter(p.open_time >= since)
        recent = p.order_by([ibis.desc("high"), "open_time"]).limit(1).execute()
        if len(recent):
            span = p.aggregate(n=p.count(), first=p.open_time.min(), last=p.open_time.max()).execute().iloc[0]
            sources.append(Source(table="candles", origin=str(recent.origin.iloc[0]), rows=int(span["n"]),
                                  first=_py(span["first"]), last=_py(span["last"]),
                                  note=f"{market.label}, since the composite's last day"))
            if float(recent.high.iloc[0]) > ath:
                ath, ath_time = float(recent.high.iloc[0]), pd.Timestamp(recent.open_time.iloc[0]).to_pydatetime()
    price, hypothetical, observed = ctx.price()
    common = dict(as_of=ctx.as_of, window="all", sources=sources)
    out = [
        Finding(id="price.ath_usd", value=ath, unit="USD", method="highest high in the price history known by as-of",
                detail={"date": str(ath_time.date())}, **common),
        Finding(id="price.ath_date", value=str(ath_time.date()), unit="date",
                method="day of the highest high in the price history", detail={"ath_usd": ath}, **common),
    ]
    if price is None:
        out.append(not_available("price.drawdown_from_ath_pct", ctx.as_of, "no current price", unit="pct", window="all"))
    else:
        out.append(Finding(
            id="price.drawdown_from_ath_pct", value=(price / ath - 1) * 100, unit="pct",
            method="price / all-time high - 1", hypothetical=hypothetical,
            detail={"price": price, "ath_usd": ath, "ath_date": str(ath_time.date())},
            **{**common, "sources": common["sources"] + (observed.sources if observed else [])}))
    return out


# -- lowest since ---------------------------------------------------------------------------------

def _lowest_since(ctx: Context, low_f: Finding | None) -> list[Finding]:
    fid = "price.lowest_since_date"
    price, hypothetical, _ = ctx.price()
    level = price if hypothetical else (low_f.value if low_f else None)
    if level is None:
        return [not_available(fid, ctx.as_of, "no trailing-24h low", unit="date", window="24h")]
    window_start = (ctx.as_of_naive - DAY).date()
    composite = daily_market(ctx)
    d = bars(ctx, *composite[:3])
    earlier = d.filter(d.open_time < pd.Timestamp(window_start).to_pydatetime())
    hit = earlier.filter(earlier.low <= level).order_by(ibis.desc("open_time")).limit(1).execute()
    scanned = earlier.aggregate(n=earlier.count(), first=earlier.open_time.min(), last=earlier.open_time.max(),
                                origins=earlier.origin.collect(distinct=True)).execute().iloc[0]
    origins = scanned["origins"]
    src = Source(table="candles", origin=", ".join(sorted(origins) if isinstance(origins, (list, np.ndarray)) else []),
                 rows=int(scanned["n"]),
                 first=_py(scanned["first"]), last=_py(scanned["last"]), note="daily lows scanned")
    method = ("the latest day before the trailing-24h window whose daily low was at or below "
              + ("the hypothetical price" if hypothetical else "the trailing-24h low"))
    if not len(hit):
        return [Finding(id=fid, value=None, unit="date", as_of=ctx.as_of, window="24h", method=method,
                        sources=[src], hypothetical=hypothetical, detail={"level": level, "lowest_on_record": True},
                        note=f"not available: no earlier day in the data had a low at or below {level:,.2f} "
                             "(lowest on record in the data)")]
    h = hit.iloc[0]
    return [Finding(id=fid, value=str(pd.Timestamp(h.open_time).date()), unit="date", as_of=ctx.as_of, window="24h",
                    method=method, sources=[src], hypothetical=hypothetical,
                    detail={"level": level, "that_day_low": float(h.low), "that_day_close": float(h.close)})]


# -- named events the price is below --------------------------------------------------------------

def _below_events(ctx: Context) -> list[Finding]:
    fid = "price.below_event"
    price, hypothetical, observed = ctx.price()
    if price is None:
        return [not_available(fid, ctx.as_of, "no current price", unit="events", window="since")]
    ev = ctx.table("events")
    composite = daily_market(ctx)
    d = bars(ctx, *composite[:3])
    d = d.mutate(date=d.open_time.date())
    # An event on the day being described (or the day before) is not a reference point for it.
    ev = ev.filter(ev.date < (ctx.as_of_naive - 2 * DAY).date())
    joined = ev.join(d, ev.date == d.date).select(ev.id, ev.title, ev.date, ev.category, d.close, d.origin)
    rows = joined.filter(joined.close > price).order_by(ibis.desc("date")).execute()
    considered = joined.count().execute()
    closes = d.select("open_time", "close").order_by("open_time").execute() if len(rows) else None
    detail = [{"id": r.id, "title": r.title, "date": str(pd.Timestamp(r.date).date()), "category": r.category,
               "close": float(r.close), **_break(closes, float(r.close), ctx.as_of_naive)} for r in rows.itertuples()]
    return [Finding(
        id=fid, value=[e["id"] for e in detail], unit="events", as_of=ctx.as_of, window="since",
        method="named events (packaged events table, before the day described) whose day's close on the "
               "composite is above the price; most recent first. Per event: when the closes broke below it "
               f"(broke_below), the share of the {BREAK_BEFORE_DAYS} closes before that above it, and "
               f"decisive_break = a break within {BREAK_RECENT_DAYS} days after closes above it on at least "
               f"{BREAK_SHARE_ABOVE:.0%} of those days", hypothetical=hypothetical,
        params={"price": price}, detail={"events": detail, "price": price, "events_with_a_close": int(considered)},
        sources=[Source(table="events", origin="package/btcstress/data/events.csv", rows=int(considered)),
                 Source(table="candles", origin=_origin(d), rows=int(considered), note="event-day closes")]
        + (observed.sources if observed else []))]


BREAK_RECENT_DAYS = 30  # "erasing the gains since X": the closes broke below X's close within this many days
BREAK_BEFORE_DAYS = 60  # ... after closing above it on most of the days before the break
BREAK_SHARE_ABOVE = 0.8


def _break(closes: pd.DataFrame | None, level: float, t) -> dict:
    """When the daily closes last went from above `level` to below it, and whether that was decisive."""
    if closes is None or not len(closes):
        return {"broke_below": None, "share_above_before": None, "decisive_break": False}
    above = (closes.close > level).to_numpy()
    if above[-1]:
        return {"broke_below": None, "share_above_before": None, "decisive_break": False}
    ups = [i for i in range(len(above)) if above[i]]
    if not ups:
        return {"broke_below": None, "share_above_before": 0.0, "decisive_break": False}
    i = ups[-1] + 1  # the first close of the current run below
    broke = pd.Timestamp(closes.open_time.iloc[i]).date()
    before = above[max(0, i - BREAK_BEFORE_DAYS):i]
    share = float(before.mean()) if len(before) else 0.0
    recent = (pd.Timestamp(t).date() - broke).days <= BREAK_RECENT_DAYS
    return {"broke_below": str(broke), "share_above_before": round(share, 2),
            "decisive_break": bool(recent and share >= BREAK_SHARE_ABOVE)}


# -- chart series ---------------------------------------------------------------------------------

def series(ctx: Context) -> list[Series]:
    out = []
    composite = daily_market(ctx)
    d = bars(ctx, *composite[:3])
    last = d.open_time.max().execute()
    if last is not None and not pd.isna(last):
        recent = d.filter(d.open_time > pd.Timestamp(last).to_pydatetime() - 180 * DAY).order_by("open_time").execute()
        out.append(Series(name="price.daily_180d", title="BTC-USD daily close, last 180 days", unit="USD",
                          x=[str(pd.Timestamp(t).date()) for t in recent.open_time], y=recent.close.tolist(),
                          extra={"low": recent.low.tolist(), "high": recent.high.tolist(), "open": recent.open.tolist()},
                          sources=[source("candles", recent, time_col="open_time", note=composite[3])]))
    market = primary_market(ctx)
    if market is not None and market.interval != "1d":
        b = bars(ctx, market.venue, market.symbol, market.interval)
        h = b.filter(b.available_at > ctx.as_of_naive - 2 * DAY).order_by("open_time").execute()
        if len(h):
            low = h.loc[h.low.idxmin()]
            out.append(Series(name="price.hourly_48h", title=f"{market.label}: trailing 48 h", unit="USD",
                              x=[_iso(t) for t in h.open_time], y=h.close.tolist(),
                              extra={"low": h.low.tolist(), "high": h.high.tolist(), "open": h.open.tolist(),
                                     "low_marker": {"x": _iso(low.open_time), "y": float(low.low)}},
                              sources=[source("candles", h, time_col="open_time", note=market.label)]))
    return out


def _origin(t: ibis.Table) -> str:
    return ", ".join(sorted(t.select("origin").distinct().execute()["origin"]))


def _iso(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%MZ")


def _py(ts):
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).to_pydatetime()


def history(hctx) -> pd.DataFrame:
    """Every price finding at every instant of hctx.instants, set-based (see price_history)."""
    from btcstress.metrics.price_history import rows
    return rows(hctx)
