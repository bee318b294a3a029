"""US spot Bitcoin ETF flows as the market knew them at T: the latest trading day, per fund, the
week so far, the current outflow streak, the total since launch, assets under management, and the
average price the net inflows paid for their bitcoin.

Vintages: `etf_flows` keeps every published version of a day. As of T a day is read from its latest
vintage published by T (a preliminary version before a fund reported, or the final one), and the
findings say which vintage they used and which funds were missing. All flows are in USD, negative
= net outflow (redemptions).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pandas as pd

from btcstress.findings import Finding, Series, iso
from btcstress.metrics.context import Context

AREA = "etf"
SUBJECT = "US spot BTC ETFs"

DEFAULTS: dict[str, Any] = {
    # Trailing history for `unusual` (z-score and percentile of a day's flow), in calendar days.
    "history_days": 365,
    # The BTC price a day's flow bought or sold at: the daily close of this market (UTC day).
    "price_venue": "cryptoquant",
    "price_symbol": "BTC-USD",
    "price_interval": "1d",
    # Trading days in the flows-by-fund chart.
    "chart_days": 30,
}


# -- the as-of view: each day's latest vintage ---------------------------------------------------

def latest_days(ctx: Context) -> ibis.Table:
    """etf_flow_days cut at T, one row per day: the latest vintage published by T."""
    days = ctx.table("etf_flow_days")
    w = ibis.window(group_by=days.date, order_by=[ibis.desc(days.vintage)])
    return days.mutate(_rn=ibis.row_number().over(w)).filter(lambda t: t._rn == 0).drop("_rn")


def latest_flows(ctx: Context) -> ibis.Table:
    """The per-fund rows of each trading day's latest vintage (null flow = fund not yet reported)."""
    days = latest_days(ctx)
    trading = days.filter(days.funds_reported > 0).select("date", "vintage", "preliminary", "missing_funds",
                                                          "total_usd")
    return ctx.table("etf_flows").join(trading, ["date", "vintage"])


def daily(ctx: Context) -> ibis.Table:
    """One row per trading day: net flow (sum of the funds that reported), its vintage and status."""
    f = latest_flows(ctx)
    return f.group_by(["date", "vintage", "preliminary", "missing_funds", "total_usd"]).aggregate(
        net_flow_usd=f.net_flow_usd.sum(), fund_rows=f.count(), origin=f.origin.max())


def _iso(v) -> str | None:
    """A stored naive-UTC timestamp as the ISO text findings print (with a Z)."""
    t = _ts(v)
    return iso(t) if t is not None else None


def _ts(v) -> dt.datetime | None:
    if v is None or pd.isna(v):
        return None
    return pd.Timestamp(v).to_pydatetime()


def _day(v) -> dt.date:
    return pd.Timestamp(v).date()


# -- findings ------------------------------------------------------------------------------------

IDS = ("etf.net_flow_usd", "etf.week_to_date_usd", "etf.outflow_streak_days", "etf.outflow_streak_usd",
       "etf.cumulative_usd", "etf.aum_usd", "etf.holders_cost_basis_usd", "etf.holders_pnl_pct")
UNITS = {"etf.outflow_streak_days": "days", "etf.holders_pnl_pct": "pct"}


def findings(ctx: Context) -> list[Finding]:
    from btcstress.metrics import etf_snapshot  # it reads this module's definitions
    return etf_snapshot.findings(ctx, ctx.area_params(AREA, DEFAULTS))


def series(ctx: Context) -> list[Series]:
    from btcstress.metrics import etf_snapshot
    return etf_snapshot.series(ctx, ctx.area_params(AREA, DEFAULTS))


def _prices(ctx: Context, p: dict) -> ibis.Table:
    """The price market's daily closes (a day's flow is converted to BTC at its close)."""
    c = ctx.table("candles")
    c = c.filter((c.venue == p["price_venue"]) & (c.symbol == p["price_symbol"]) & (c.interval == p["price_interval"]))
    return c.select(date=c.open_time.date(), close=c.close, price_origin=c.origin)


# -- history (series-first; see btcstress.history) ------------------------------------------------

def history(hctx) -> pd.DataFrame:
    """Every ETF finding at every instant of hctx.instants, set-based per publication (see etf_history)."""
    from btcstress.metrics.etf_history import rows
    return rows(hctx)
