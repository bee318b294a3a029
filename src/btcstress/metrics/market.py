"""Market-wide findings: total crypto market value and its one-day change, BTC's market cap and
dominance, and the Fear & Greed index, each for the latest day published by T."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from btcstress.findings import Finding, not_available
from btcstress.metrics.context import Context, source

DEFAULTS: dict = {}
HISTORY_NEEDS: tuple[str, ...] = ()  # the history reads no other area


def findings(ctx: Context) -> list[Finding]:
    ctx.area_params("market", DEFAULTS)
    return [*_total_cap(ctx), *_latest_cap(ctx, "market.btc_cap_usd", "btc", "BTC market capitalisation at the "
                                            "day's close (CryptoQuant)"),
            *_indicator(ctx, "market.btc_dominance_pct", "btc_dominance_pct", "pct", "BTC",
                        "BTC share of the total crypto market cap at the day's close (TradingView CRYPTOCAP:BTC.D)"),
            *_indicator(ctx, "market.fear_greed", "fear_greed", "index", "crypto",
                        "Alternative.me Crypto Fear & Greed Index (0 extreme fear .. 100 extreme greed), "
                        "published at 00:00 UTC for the day")]


def caps(ctx: Context, scope: str) -> ibis.Table:
    m = ctx.table("market_cap_daily")
    return m.filter(m.scope == scope)


def _total_cap(ctx: Context) -> list[Finding]:
    t = caps(ctx, "total")
    order = ibis.window(order_by=t.date)
    t = t.mutate(prev=t.cap_usd.lag().over(order), prev_date=t.date.lag().over(order))
    t = t.mutate(change=t.cap_usd - t.prev)
    rows = t.filter(t.date == t.date.max()).order_by("origin").execute()  # the last day's rows, in one query
    if not len(rows):
        reason = "no total market cap published by as-of (the derived series starts 2017-07-14)"
        return [not_available("market.total_cap_usd", ctx.as_of, reason, subject="crypto", unit="USD", window="1d"),
                not_available("market.total_cap_change_usd", ctx.as_of, reason, subject="crypto", unit="USD",
                              window="1d")]
    row = rows.iloc[0]
    day = pd.Timestamp(row.date).date()
    last_date = day
    window = f"1d:{day}"
    src = source("market_cap_daily", rows, time_col="date",
                 note="derived: TOTAL3 / (1 - (BTC.D + ETH.D) / 100) from TradingView CRYPTOCAP indices")
    out = [Finding(id="market.total_cap_usd", subject="crypto", value=float(row.cap_usd), unit="USD",
                   as_of=ctx.as_of, window=window, sources=[src], detail={"date": str(day)},
                   method="all-crypto market cap at the day's close, derived from TOTAL3 and the BTC and ETH "
                          "dominance indices")]
    if pd.isna(row.prev) or (pd.Timestamp(row.date) - pd.Timestamp(row.prev_date)).days != 1:
        out.append(not_available("market.total_cap_change_usd", ctx.as_of, f"no total market cap for the day "
                                 f"before {day}", subject="crypto", unit="USD", window=window))
        return out
    hist = t.filter(t.change.notnull() & (t.date < last_date) & (t.date >= last_date - dt.timedelta(days=365)))
    stats = hist.aggregate(mean=hist.change.mean(), std=hist.change.std(), n=hist.count()).execute().iloc[0]
    z = (float(row.change) - stats["mean"]) / stats["std"] if stats["std"] else None
    out.append(Finding(
        id="market.total_cap_change_usd", subject="crypto", value=float(row.change), unit="USD", as_of=ctx.as_of,
        window=window, sources=[src], method="total market cap at the day's close - the previous day's",
        detail={"date": str(day), "cap_usd": float(row.cap_usd), "previous_cap_usd": float(row.prev),
                "change_pct": round((float(row.cap_usd) / float(row.prev) - 1) * 100, 4)},
        unusual={"zscore": None if z is None else round(z, 2), "n": int(stats["n"]),
                 "history": f"daily changes, trailing 365 days ({int(stats['n'])})"}))
    return out


def _latest_cap(ctx: Context, fid: str, scope: str, method: str) -> list[Finding]:
    t = caps(ctx, scope)
    rows = t.filter(t.date == t.date.max()).order_by("origin").execute()
    if not len(rows):
        return [not_available(fid, ctx.as_of, f"no {scope} market cap published by as-of", unit="USD", window="1d")]
    row = rows.iloc[0]
    day = pd.Timestamp(row.date).date()
    return [Finding(id=fid, value=float(row.cap_usd), unit="USD", as_of=ctx.as_of, window=f"1d:{day}",
                    method=method, sources=[source("market_cap_daily", rows, time_col="date")],
                    detail={"date": str(day)})]


def _indicator(ctx: Context, fid: str, name: str, unit: str, subject: str, method: str) -> list[Finding]:
    i = ctx.table("indicators_daily")
    i = i.filter(i.name == name)
    rows = i.filter(i.date == i.date.max()).order_by("origin").execute()
    if not len(rows):
        return [not_available(fid, ctx.as_of, f"no {name} published by as-of", subject=subject, unit=unit,
                              window="1d")]
    row = rows.iloc[0]
    day = pd.Timestamp(row.date).date()
    detail = {"date": str(day)}
    if isinstance(row.label, str):
        detail["label"] = row.label
    value = float(row.value)
    return [Finding(id=fid, subject=subject, value=int(value) if unit == "index" else value, unit=unit,
                    as_of=ctx.as_of, window=f"1d:{day}", method=method, detail=detail,
                    sources=[source("indicators_daily", rows, time_col="date")])]


def series(ctx: Context) -> list:
    from btcstress.findings import Series
    t = caps(ctx, "total")
    last = t.date.max().execute()
    if last is None or pd.isna(last):
        return []
    recent = t.filter(t.date > last - dt.timedelta(days=180)).order_by("date").execute()
    return [Series(name="market.total_cap_180d", title="Total crypto market cap (derived), last 180 days", unit="USD",
                   x=[str(pd.Timestamp(d).date()) for d in recent.date], y=recent.cap_usd.tolist(),
                   sources=[source("market_cap_daily", recent, time_col="date")])]


# -- history (series-first; see btcstress.history) ------------------------------------------------

def history(hctx) -> pd.DataFrame:
    """Every market finding at every instant of hctx.instants, in a few set-based queries."""
    from btcstress.metrics.market_history import rows
    return rows(hctx)
