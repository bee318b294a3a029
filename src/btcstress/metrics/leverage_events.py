"""Event-level liquidations (recorded live from the venues' force-order streams): count, largest
single liquidation and the 24 h long/short sums, for the trailing 24 h ("24h") and the last complete
UTC day ("1d:2026-02-05"). Part of the leverage area (btcstress.metrics.leverage): the snapshot at one
instant and the history at every instant, side by side.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pandas as pd

from btcstress.findings import Finding, Source, not_available
from btcstress.history.context import one_per
from btcstress.metrics.context import Context
from btcstress.parsers import binance_force_order, bybit_liquidation, okx_liquidation

COVERAGE = {binance_force_order.VENUE: binance_force_order.COVERAGE, bybit_liquidation.VENUE: bybit_liquidation.COVERAGE,
            okx_liquidation.VENUE: okx_liquidation.COVERAGE}


# -- snapshot -------------------------------------------------------------------------

def findings(ctx: Context, params: dict[str, Any], subjects: list[tuple[str, list[str]]]) -> list[Finding]:
    t = ctx.table("liquidations")
    end_24 = ctx.as_of_naive
    day = ctx.as_of_naive.date() - dt.timedelta(days=1)
    day_start = dt.datetime(day.year, day.month, day.day)
    windows = [(f"1d:{day}", day_start, day_start + dt.timedelta(days=1), f"{day} (UTC)"),
               ("24h", end_24 - dt.timedelta(hours=24), end_24, "the 24 h to as-of")]
    groups = _groups(t, subjects, windows)
    out: list[Finding] = []
    for subject, sub_assets in subjects:
        for wi, (window, start, end, label) in enumerate(windows):
            by_venue = _by_venue(groups, sub_assets, wi)
            n = int(by_venue["n"].sum()) if len(by_venue) else 0
            if n == 0:
                reason = f"no event-level liquidations stored for {subject} in {label}"
                out.append(not_available("liquidations.largest_usd", ctx.as_of, reason, subject=subject, unit="USD",
                                         window=window))
                out.append(not_available("liquidations.count", ctx.as_of, reason, subject=subject, unit="events",
                                         window=window))
                continue
            ev = t.filter(_in_window(t, sub_assets, window, start, end))
            srcs = [Source(table="liquidations", origin=", ".join(sorted(r.origin)), rows=int(r.n),
                           first=pd.Timestamp(r.first).to_pydatetime(), last=pd.Timestamp(r.last).to_pydatetime(),
                           note=COVERAGE.get(r.venue)) for r in by_venue.itertuples()]
            venues = sorted(by_venue["venue"])
            lower = any(v == binance_force_order.VENUE for v in venues)
            cov = (f"only the venues recorded ({', '.join(venues)}), only while recording"
                   + ("; Binance counts are lower bounds" if lower else ""))
            top = ev.order_by([ibis.desc("usd"), "ts", "venue", "symbol", "id"]).limit(1).execute().iloc[0]
            common = dict(subject=subject, as_of=ctx.as_of, window=window, params=params, sources=srcs, note=cov)
            if window == "24h":
                lu = float(by_venue["long_usd"].fillna(0).sum())
                su = float(by_venue["short_usd"].fillna(0).sum())
                ev_method = f"sum of event notionals (price x qty) in {label}, venues {', '.join(venues)}"
                out.append(Finding(id="liquidations.long_usd", value=lu, unit="USD", method=ev_method + ", long", **common))
                out.append(Finding(id="liquidations.short_usd", value=su, unit="USD", method=ev_method + ", short",
                                   **common))
                out.append(Finding(id="liquidations.total_usd", value=lu + su, unit="USD", method=ev_method, **common))
                if lu + su > 0:
                    out.append(Finding(id="liquidations.long_share_pct", value=round(100.0 * lu / (lu + su), 2),
                                       unit="pct", method="100 x long_usd / total_usd over events", **common))
            out.append(Finding(id="liquidations.count", value=n, unit="events",
                               method=f"number of liquidation events stored for {label}",
                               detail={"by_venue": {r.venue: int(r.n) for r in by_venue.itertuples()}}, **common))
            out.append(Finding(id="liquidations.largest_usd", value=float(top["usd"]), unit="USD",
                               method=f"largest single liquidation event (price x qty) in {label}",
                               detail={"venue": top["venue"], "symbol": top["symbol"],
                                       "time": pd.Timestamp(top["ts"]).isoformat(timespec="milliseconds") + "Z",
                                       "side": top["side"], "price": float(top["price"]), "qty": float(top["qty"]),
                                       "id": top["id"]}, **common))
    return out


def _in_window(t: ibis.Table, assets: list[str], window: str, start: dt.datetime, end: dt.datetime):
    """The events of `assets` in a window: the 24 h to as-of (start, end], a UTC day [start, end)."""
    if window == "24h":
        return t.asset.isin(assets) & (t.ts > start) & (t.ts <= end)
    return t.asset.isin(assets) & (t.ts >= start) & (t.ts < end)


def _groups(t: ibis.Table, subjects: list[tuple[str, list[str]]], windows: list) -> pd.DataFrame:
    """Per (asset, venue, origin), each window's count, long and short sums and first and last event, in
    one query over both windows (the UTC day before as-of and the 24 h to it both lie within
    [the day's start, as-of]); the findings combine the groups of their assets."""
    assets = sorted({a for _, sub in subjects for a in sub})
    ev = t.filter(t.asset.isin(assets) & (t.ts >= windows[0][1]) & (t.ts <= windows[1][2]))
    aggs = {}
    for i, (window, start, end, _) in enumerate(windows):
        w = _in_window(ev, assets, window, start, end)
        aggs.update({f"n{i}": ev.count(where=w), f"long{i}": ev.usd.sum(where=w & (ev.side == "long")),
                     f"short{i}": ev.usd.sum(where=w & (ev.side == "short")), f"first{i}": ev.ts.min(where=w),
                     f"last{i}": ev.ts.max(where=w)})
    return ev.group_by(["asset", "venue", "origin"]).aggregate(**aggs).execute()


def _by_venue(groups: pd.DataFrame, assets: list[str], i: int) -> pd.DataFrame:
    """One window's events of `assets` per venue (n, long_usd, short_usd, first, last, origin: the set
    of origins), venues in order."""
    g = groups[groups["asset"].isin(assets) & (groups[f"n{i}"] > 0)]
    if not len(g):
        return pd.DataFrame(columns=["venue", "n", "long_usd", "short_usd", "first", "last", "origin"])
    return g.groupby("venue", as_index=False, sort=True).agg(
        n=(f"n{i}", "sum"), long_usd=(f"long{i}", lambda s: s.sum(min_count=1)),
        short_usd=(f"short{i}", lambda s: s.sum(min_count=1)), first=(f"first{i}", "min"),
        last=(f"last{i}", "max"), origin=("origin", lambda s: sorted(set(s))))


# -- history ----------------------------------------------------------------------

def history(hctx, cal, subjects) -> pd.DataFrame:
    """The same findings at every instant: range joins of the instants with the events."""
    from btcstress.metrics.leverage_history import _frame as frame
    t = hctx.table("liquidations")
    sm = ibis.memtable(pd.DataFrame([{"subject": s, "asset": a} for s, sub in subjects for a in sub]))
    ev = t.join(sm, t.asset == sm.asset).select(t.venue, t.symbol, t.ts, t.id, t.side, t.usd, t.available_at,
                                                 sm.subject)
    c = cal.mutate(mid=cal.as_of.truncate("D"))
    known = ev.available_at <= c.as_of
    j24 = c.join(ev, (ev.ts > c.as_of - ibis.interval(hours=24)) & (ev.ts <= c.as_of) & known)
    j1d = c.join(ev, (ev.ts >= c.mid - ibis.interval(days=1)) & (ev.ts < c.mid) & known)
    j = j24.select(c.as_of, ev, w=ibis.literal("24h")).union(j1d.select(c.as_of, ev, w=ibis.literal("1d")))
    g = ["as_of", "subject", "w"]
    agg = j.group_by(g).aggregate(n=j.count(), long=j.usd.sum(where=j.side == "long"),
                                  short=j.usd.sum(where=j.side == "short"), venues=j.venue.collect(distinct=True))
    top = one_per(j, g, [ibis.desc("usd"), "ts", "venue", "symbol", "id"]).select(*g, top=j.usd)
    agg = agg.left_join(top, g).select(agg, "top").execute()
    cal_df = pd.DataFrame({"as_of": pd.to_datetime(pd.Series(hctx.instants, dtype="object")).astype("datetime64[us]")})
    out = []
    for si, (subject, _) in enumerate(subjects):
        for wi, w in enumerate(("1d", "24h")):
            d = cal_df.merge(agg[(agg["subject"] == subject) & (agg["w"] == w)], on="as_of", how="left")
            has = d["n"].fillna(0) > 0
            day = (d["as_of"].dt.floor("D") - pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d")
            window = pd.Series("24h", index=d.index) if w == "24h" else "1d:" + day
            label = pd.Series("the 24 h to as-of", index=d.index) if w == "24h" else day + " (UTC)"
            cov = ("not available: no event-level liquidations stored for " + subject + " in " + label).astype(object)
            cov[has] = [(f"only the venues recorded ({', '.join(sorted(v))}), only while recording"
                         + ("; Binance counts are lower bounds" if binance_force_order.VENUE in v else ""))
                        for v in d.loc[has, "venues"]]
            o = si * 20 + wi * 10
            if w == "24h":
                lu, su = d["long"].fillna(0.0), d["short"].fillna(0.0)
                tot = lu + su
                for k, (fid, v) in enumerate((("liquidations.long_usd", lu), ("liquidations.short_usd", su),
                                              ("liquidations.total_usd", tot))):
                    x = frame(d, fid, v, subject=subject, unit="USD", window=window, note=cov, order=o + k)
                    out.append(x[has])
                share = has & (tot > 0)
                pct = (100.0 * lu / tot).where(share).map(lambda x: round(x, 2), na_action="ignore")
                x = frame(d, "liquidations.long_share_pct", pct, subject=subject, unit="pct", window=window, note=cov,
                          order=o + 3)
                out.append(x[share])
            # Where there are events: count then largest (after the 24 h sums); where none: largest first.
            out.append(frame(d, "liquidations.count", d["n"].where(has), subject=subject, unit="events",
                             window=window, note=cov, order=o + has.map({True: 4, False: 1})))
            out.append(frame(d, "liquidations.largest_usd", d["top"].where(has), subject=subject, unit="USD",
                             window=window, note=cov, order=o + has.map({True: 5, False: 0})))
    return pd.concat(out, ignore_index=True)
