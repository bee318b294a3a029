"""What the liquidation model reads from the store as of T (Ibis expressions; small results).

- open interest and the estimated leverage ratio: the latest daily BTC row published by T, and the
  median of the ratio over the trailing `leverage_ratio_history_days`;
- the bars positions were opened in: the CryptoQuant composite's daily bars over the trailing
  `entry_window_days`, plus, when the primary market (metrics.price) has finer bars after the last
  daily bar, one partial bar aggregated from them (so an intraday low already seen counts);
- the market depth's inputs: median daily USD volume and the std of daily log returns over
  `depth_window_days` of the composite.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from btcstress.errors import NoDataError
from btcstress.findings import Source
from btcstress.metrics import price as price_area
from btcstress.metrics.context import Context, source
from btcstress.scenario.book import Bars

DERIV_NOTE = "CryptoQuant, all exchanges, BTC"


@dataclass
class Inputs:
    as_of: dt.datetime
    open_interest_usd: float
    oi_date: dt.date
    leverage_ratio: float | None
    leverage_ratio_median: float | None
    leverage_scale: float
    bars: Bars
    bar_dates: list[str]
    last_close: float  # close of the last bar (the backtest's "previous close")
    volume_usd_median: float | None
    sigma_daily: float | None
    depth_usd_per_pct: float
    depth_from: str
    sources: list[Source] = field(default_factory=list)


def _d(v) -> dt.date:
    return pd.Timestamp(v).date()


def _ts(v) -> dt.datetime:
    return pd.Timestamp(v).to_pydatetime().replace(tzinfo=None)


def derivatives(ctx: Context, p: dict) -> tuple[float, dt.date, float | None, float | None, list[Source]]:
    t = ctx.table("derivatives_daily")
    t = t.filter(t.asset == "BTC")
    oi = t.filter(t.open_interest_usd.notnull())
    last = oi.date.max().execute()
    if last is None or pd.isna(last):
        raise NoDataError(f"no BTC open interest published by {ctx.as_of_naive:%Y-%m-%dT%H:%MZ}: the liquidation model "
                          "needs it (liquidations/cryptoquant_btc_open_interest_usd_daily.csv)")
    day = _d(last)
    oi_rows = oi.filter(oi.date == day).select("date", "open_interest_usd", "origin").execute()
    sources = [source("derivatives_daily", oi_rows, time_col="date", note=f"{DERIV_NOTE}: open interest (USD)")]
    lr = t.filter(t.leverage_ratio.notnull())
    lr_last = lr.date.max().execute()
    ratio = median = None
    if lr_last is not None and not pd.isna(lr_last):
        lday = _d(lr_last)
        hist = lr.filter((lr.date > lday - dt.timedelta(days=int(p["leverage_ratio_history_days"])))
                         & (lr.date <= lday))
        agg = hist.aggregate(median=hist.leverage_ratio.median(), n=hist.count(),
                             last=hist.leverage_ratio.max(where=hist.date == lday),
                             first=hist.date.min()).execute().iloc[0]
        ratio, median = float(agg["last"]), float(agg["median"])
        rows = hist.select("date", "origin").execute()
        sources.append(source("derivatives_daily", rows, time_col="date",
                              note=f"{DERIV_NOTE}: estimated leverage ratio, last day and trailing median"))
    return float(oi_rows["open_interest_usd"].max()), day, ratio, median, sources


def bars(ctx: Context, p: dict) -> tuple[Bars, list[str], float, list[Source]]:
    venue, symbol, interval, label = price_area.daily_market(ctx)
    c = price_area.bars(ctx, venue, symbol, interval)
    last = c.open_time.max().execute()
    if last is None or pd.isna(last):
        raise NoDataError("no daily price bars published by as-of")
    last = _ts(last)
    first = last - dt.timedelta(days=int(p["entry_window_days"]) - 1)
    d = c.filter((c.open_time >= first) & c.low.notnull() & c.high.notnull())
    d = d.select("open_time", "low", "high", "close", "volume", "origin").order_by("open_time").execute()
    srcs = [source("candles", d, time_col="open_time", note=f"{label}: entry bars")]
    vol = d["volume"].astype(float).fillna(0.0).to_numpy()
    if not (vol > 0).any():
        vol = np.ones(len(d))
    ages = np.array([(ctx.as_of_naive - (_ts(t) + dt.timedelta(hours=12))).total_seconds() / 86400.0 for t in d["open_time"]])
    lows, highs, closes = (d[k].astype(float).to_numpy() for k in ("low", "high", "close"))
    dates = [str(_d(t)) for t in d["open_time"]]
    last_close = float(closes[-1])
    # A partial bar from the primary market's finer bars after the last daily bar.
    market = price_area.primary_market(ctx)
    since = last + dt.timedelta(days=1)
    if market is not None and market.interval != "1d" and ctx.as_of_naive > since:
        h = price_area.bars(ctx, market.venue, market.symbol, market.interval)
        h = h.filter(h.open_time >= since)
        agg = h.aggregate(n=h.count(), low=h.low.min(), high=h.high.max(), first=h.open_time.min(),
                          last=h.open_time.max(), origin=h.origin.max(),
                          close=h.close.argmax(h.open_time)).execute().iloc[0]
        if int(agg["n"]) > 0:
            frac = min(1.0, (ctx.as_of_naive - since).total_seconds() / 86400.0)
            lows, highs, closes = (np.append(lows, float(agg["low"])), np.append(highs, float(agg["high"])),
                                   np.append(closes, float(agg["close"])))
            vol = np.append(vol, float(np.median(vol)) * frac)
            ages = np.append(ages, frac / 2.0)
            dates.append(f"{since.date()} (partial, to {ctx.as_of_naive:%H:%M}Z)")
            srcs.append(Source(table="candles", origin=str(agg["origin"]), rows=int(agg["n"]), first=_ts(agg["first"]),
                               last=_ts(agg["last"]), note=f"{market.label}: partial day after the last daily bar"))
    weight = vol * 0.5 ** (ages / float(p["entry_half_life_days"]))
    return Bars(low=lows, high=highs, close=closes, weight=weight), dates, last_close, srcs


def depth(ctx: Context, p: dict) -> tuple[float | None, float | None, list[Source]]:
    """Median daily USD volume and the std of daily log returns over the window (composite)."""
    venue, symbol, interval, label = price_area.daily_market(ctx)
    c = price_area.bars(ctx, venue, symbol, interval)
    c = c.filter(c.close.notnull())
    w = ibis.window(order_by=c.open_time)
    c = c.mutate(ret=(c.close / c.close.lag().over(w)).ln(), usd=c.volume * c.close)
    last = c.open_time.max().execute()
    if last is None or pd.isna(last):
        return None, None, []
    win = c.filter(c.open_time > _ts(last) - dt.timedelta(days=int(p["depth_window_days"])))
    agg = win.aggregate(v=win.usd.median(), s=win.ret.std(), n=win.count()).execute().iloc[0]
    rows = win.select("open_time", "origin").execute()
    if int(agg["n"]) < 5 or pd.isna(agg["v"]) or pd.isna(agg["s"]) or not agg["s"] > 0:
        return None, None, []
    return float(agg["v"]), float(agg["s"]), [source("candles", rows, time_col="open_time",
                                                     note=f"{label}: volume x close and daily log returns "
                                                          "for the market depth")]


def read(ctx: Context, p: dict) -> Inputs:
    from btcstress.scenario.book import depth_from_sqrt_law

    oi, oi_day, ratio, median, dsrc = derivatives(ctx, p)
    b, dates, last_close, bsrc = bars(ctx, p)
    vol, sigma, vsrc = depth(ctx, p)
    scale = 1.0
    if p["scale_by_leverage_ratio"] and ratio and median:
        scale = ratio / median
    if p["depth_usd_per_pct"] is not None:
        dep, how = float(p["depth_usd_per_pct"]), "parameter depth_usd_per_pct"
        vsrc = []
    elif vol and sigma:
        dep = depth_from_sqrt_law(vol, sigma, float(p["impact_y"]))
        how = (f"square-root impact law at a 1% move: median daily USD volume {vol:,.0f} x (0.01 / "
               f"({p['impact_y']} x daily sigma {sigma:.4f}))^2")
    else:
        raise NoDataError("not enough daily bars to derive the market depth; give --param "
                          "scenario.depth_usd_per_pct=USD")
    return Inputs(as_of=ctx.as_of, open_interest_usd=oi, oi_date=oi_day, leverage_ratio=ratio,
                  leverage_ratio_median=median, leverage_scale=scale, bars=b, bar_dates=dates, last_close=last_close,
                  volume_usd_median=vol, sigma_daily=sigma, depth_usd_per_pct=dep, depth_from=how,
                  sources=dsrc + bsrc + vsrc)
