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
import numpy as np
import pandas as pd

from btcstress.findings import Finding, Series, Source, iso, not_available
from btcstress.metrics.context import Context
from btcstress.parsers import etf_funds

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


def _source(expr: ibis.Table, table: str, time_col: str, note: str | None = None, rows_col: str | None = None
            ) -> Source:
    """Provenance of the rows behind `expr`, aggregated in the backend (one query; the distinct
    origins collected without nulls)."""
    agg = expr.aggregate(rows=(expr[rows_col].sum() if rows_col else expr.count()),
                         first=expr[time_col].min(), last=expr[time_col].max(),
                         origins=expr.origin.collect(distinct=True)).execute().iloc[0]
    found = agg["origins"]
    origins = sorted(found) if isinstance(found, (list, tuple, np.ndarray)) else []
    return Source(table=table, origin=", ".join(origins) or "-", rows=int(agg["rows"] or 0),
                  first=_ts(agg["first"]), last=_ts(agg["last"]), note=note)


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


def _unusual(d: ibis.Table, value: float, day: dt.date, days: int, col: str = "net_flow_usd") -> dict | None:
    """z-score and percentile of `value` against the trading days of the trailing `days` before `day`."""
    hist = d.filter((d.date < day) & (d.date >= day - dt.timedelta(days=days)) & d[col].notnull())
    a = hist.aggregate(n=hist.count(), mean=hist[col].mean(), std=hist[col].std(),
                       below=(hist[col] <= value).sum()).execute().iloc[0]
    n = int(a["n"] or 0)
    if n < 20 or not a["std"] or pd.isna(a["std"]):
        return None
    return {"zscore": round(float((value - a["mean"]) / a["std"]), 2),
            "percentile": round(100.0 * float(a["below"]) / n, 1),
            "history": f"{days}d trailing, {n} trading days", "mean": float(a["mean"]), "std": float(a["std"]),
            "n": n, "calendar": "trading"}


# -- findings ------------------------------------------------------------------------------------

IDS = ("etf.net_flow_usd", "etf.week_to_date_usd", "etf.outflow_streak_days", "etf.outflow_streak_usd",
       "etf.cumulative_usd", "etf.aum_usd", "etf.holders_cost_basis_usd", "etf.holders_pnl_pct")
UNITS = {"etf.outflow_streak_days": "days", "etf.holders_pnl_pct": "pct"}


def findings(ctx: Context) -> list[Finding]:
    p = ctx.area_params(AREA, DEFAULTS)
    d = daily(ctx)
    last = d.order_by(ibis.desc(d.date)).limit(1).execute()
    if last.empty:
        reason = "no US spot BTC ETF flows published by this instant (the first traded on 2024-01-11)"
        out = [not_available(i, ctx.as_of, reason, subject=SUBJECT, unit=UNITS.get(i, "USD")) for i in IDS]
        for f in out:
            f.params = p
        return out
    row = last.iloc[0]
    day = _day(row["date"])
    out: list[Finding] = []
    out.append(_net_flow(ctx, p, d, row, day))
    out.extend(_per_fund(ctx, p, day, row))
    out.append(_week_to_date(ctx, p, d, day))
    out.extend(_streak(ctx, p, d, day))
    cumulative, basis = _cumulative_and_basis(ctx, p, d, day)
    out.append(cumulative)
    out.append(_aum(ctx, p))
    out.extend(basis)
    return out


def _status(row) -> dict[str, Any]:
    missing = [m for m in (row["missing_funds"] or "").split(",") if m]
    return {"vintage": _iso(row["vintage"]), "preliminary": bool(row["preliminary"]), "missing_funds": missing}


def _net_flow(ctx: Context, p: dict, d: ibis.Table, row, day: dt.date) -> Finding:
    status = _status(row)
    # Every vintage of that day published by T, so a reader can tell preliminary from final.
    days = ctx.table("etf_flow_days")
    fl = ctx.table("etf_flows")
    v = fl.filter(fl.date == day).group_by("vintage").aggregate(net_flow_usd=fl.net_flow_usd.sum())
    vs = days.filter(days.date == day).join(v, "vintage").order_by("vintage").execute()
    vintages = [{"vintage": _iso(r.vintage), "net_flow_usd": float(r.net_flow_usd), "preliminary": bool(r.preliminary),
                 "missing_funds": [m for m in (r.missing_funds or "").split(",") if m],
                 "published_total_usd": None if pd.isna(r.total_usd) else float(r.total_usd)}
                for r in vs.itertuples()]
    rows = d.filter(d.date == day)
    value = float(row["net_flow_usd"])
    note = None
    if status["preliminary"]:
        note = (f"preliminary: {', '.join(status['missing_funds'])} had not reported in the vintage published "
                f"{status['vintage']}; the total covers the funds that had")
    return Finding(
        id="etf.net_flow_usd", subject=SUBJECT, value=value, unit="USD", as_of=ctx.as_of, window=f"1d:{day}",
        method="Sum of the per-fund net flows (creations minus redemptions, USD) of the latest US trading day "
               "published by T, read from that day's latest vintage published by T; funds not yet reported "
               "in that vintage are listed, not guessed.",
        params=p, sources=[_source(rows, "etf_flows", "date", rows_col="fund_rows")],
        detail={"date": day.isoformat(), **status,
                "published_total_usd": None if pd.isna(row["total_usd"]) else float(row["total_usd"]),
                "funds_reported": int(row["fund_rows"]) - len(status["missing_funds"]),
                "vintages": vintages},
        note=note, unusual=_unusual(d, value, day, p["history_days"]))


def _per_fund(ctx: Context, p: dict, day: dt.date, row) -> list[Finding]:
    f = latest_flows(ctx)
    today = f.filter(f.date == day).execute()
    # Each fund's own trailing history (reported days only) for `unusual`, in one grouped query.
    hist = f.filter((f.date < day) & (f.date >= day - dt.timedelta(days=p["history_days"])) & f.net_flow_usd.notnull())
    stats = hist.group_by("fund").aggregate(n=hist.count(), mean=hist.net_flow_usd.mean(),
                                            std=hist.net_flow_usd.std()).execute().set_index("fund")
    names = {fd.ticker: fd for fd in etf_funds.packaged()}
    vintage = _ts(row["vintage"])
    out = []
    for r in today.sort_values("fund").itertuples():
        fund = names.get(r.fund)
        src = Source(table="etf_flows", origin=r.origin, rows=1, first=_ts(r.date), last=_ts(r.date))
        detail = {"date": day.isoformat(), "vintage": _iso(vintage), "preliminary": bool(row["preliminary"]),
                  "name": fund.name if fund else None, "issuer": fund.issuer if fund else None}
        method = "The fund's net flow (USD) on the latest US trading day published by T, from that day's latest vintage."
        if pd.isna(r.net_flow_usd):
            nf = not_available("etf.flow_usd", ctx.as_of, f"{r.fund} had not reported {day} in the vintage "
                               f"published {vintage:%Y-%m-%dT%H:%MZ}", subject=r.fund, unit="USD",
                               window=f"1d:{day}", method=method)
            nf.params, nf.sources, nf.detail = p, [src], detail
            out.append(nf)
            continue
        unusual = None
        if r.fund in stats.index:
            s = stats.loc[r.fund]
            if s["n"] >= 20 and s["std"] and not pd.isna(s["std"]):
                unusual = {"zscore": round(float((r.net_flow_usd - s["mean"]) / s["std"]), 2),
                           "history": f"{p['history_days']}d trailing, {int(s['n'])} reported days",
                           "n": int(s["n"]), "calendar": "trading"}
        out.append(Finding(id="etf.flow_usd", subject=r.fund, value=float(r.net_flow_usd), unit="USD",
                           as_of=ctx.as_of, window=f"1d:{day}", method=method, params=p, sources=[src],
                           detail=detail, unusual=unusual))
    return out


def _week_to_date(ctx: Context, p: dict, d: ibis.Table, day: dt.date) -> Finding:
    monday = day - dt.timedelta(days=day.weekday())
    w = d.filter((d.date >= monday) & (d.date <= day))
    a = w.aggregate(total=w.net_flow_usd.sum(), days=w.count(), prelim=w.preliminary.sum()).execute().iloc[0]
    prelim_days = w.filter(w.preliminary).date.execute().tolist()
    return Finding(
        id="etf.week_to_date_usd", subject=SUBJECT, value=float(a["total"]), unit="USD", as_of=ctx.as_of,
        window=f"wtd:{monday}..{day}",
        method="Sum of the daily net flows (each day's latest vintage by T) from Monday of the latest "
               "trading day's week through that day.",
        params=p, sources=[_source(w, "etf_flows", "date", rows_col="fund_rows")],
        detail={"from": monday.isoformat(), "to": day.isoformat(), "trading_days": int(a["days"]),
                "preliminary_days": [_day(x).isoformat() for x in prelim_days]})


def _streak(ctx: Context, p: dict, d: ibis.Table, day: dt.date) -> list[Finding]:
    # The current run: trading days after the last day with a net flow >= 0.
    last_in = d.filter(d.net_flow_usd >= 0).date.max().execute()
    run = d.filter(d.date > _day(last_in)) if last_in is not None and not pd.isna(last_in) else d
    a = run.aggregate(n=run.count(), total=run.net_flow_usd.sum(), first=run.date.min(),
                      last=run.date.max()).execute().iloc[0]
    n = int(a["n"] or 0)
    days = run.order_by("date").select("date", "net_flow_usd", "preliminary", "missing_funds").execute()
    per_day = [{"date": _day(r.date).isoformat(), "net_flow_usd": float(r.net_flow_usd),
                "preliminary": bool(r.preliminary), "missing_funds": [m for m in (r.missing_funds or "").split(",") if m]}
               for r in days.itertuples()]
    window = f"streak:{_day(a['first'])}..{_day(a['last'])}" if n else f"streak:none at {day}"
    detail = {"from": _day(a["first"]).isoformat() if n else None, "to": day.isoformat(), "days": per_day,
              "previous_inflow_day": _day(last_in).isoformat() if last_in is not None and not pd.isna(last_in) else None,
              "preliminary": any(x["preliminary"] for x in per_day)}
    src = [_source(run, "etf_flows", "date", rows_col="fund_rows")] if n else []
    method = ("Consecutive US trading days, ending with the latest published by T, whose net flow (latest "
              "vintage by T) was negative; 0 when the latest day was an inflow.")
    note = None if n else "the latest trading day was not a net outflow"
    return [
        Finding(id="etf.outflow_streak_days", subject=SUBJECT, value=n, unit="days", as_of=ctx.as_of, window=window,
                method=method, params=p, sources=src, detail=detail, note=note),
        Finding(id="etf.outflow_streak_usd", subject=SUBJECT, value=float(a["total"]) if n else 0.0, unit="USD",
                as_of=ctx.as_of, window=window, method="Sum of the daily net flows over the current outflow streak. " + method,
                params=p, sources=src, detail=detail, note=note),
    ]


def _prices(ctx: Context, p: dict) -> ibis.Table:
    c = ctx.table("candles")
    c = c.filter((c.venue == p["price_venue"]) & (c.symbol == p["price_symbol"]) & (c.interval == p["price_interval"]))
    return c.select(date=c.open_time.date(), close=c.close, price_origin=c.origin)


def _cumulative_and_basis(ctx: Context, p: dict, d: ibis.Table, day: dt.date) -> tuple[Finding, list[Finding]]:
    a = d.aggregate(total=d.net_flow_usd.sum(), days=d.count(), first=d.date.min(),
                    prelim=d.preliminary.sum()).execute().iloc[0]
    first = _day(a["first"])
    src = _source(d, "etf_flows", "date", rows_col="fund_rows")
    cumulative = Finding(
        id="etf.cumulative_usd", subject=SUBJECT, value=float(a["total"]), unit="USD", as_of=ctx.as_of,
        window=f"since:{first}..{day}",
        method="Sum of the daily net flows of every US trading day since launch (2024-01-11), each day from "
               "its latest vintage published by T. GBTC's assets from before its conversion are not flows.",
        params=p, sources=[src], detail={"from": first.isoformat(), "to": day.isoformat(),
                                         "trading_days": int(a["days"]), "preliminary_days": int(a["prelim"])})

    # Cost basis: each day's net flow buys (or sells) BTC at that day's close.
    px = _prices(ctx, p)
    j = d.left_join(px, d.date == px.date)
    priced = j.filter(j.close.notnull())
    b = priced.aggregate(usd=priced.net_flow_usd.sum(), btc=(priced.net_flow_usd / priced.close).sum(),
                         days=priced.count()).execute().iloc[0]
    unpriced = j.filter(j.close.isnull()).date.execute().tolist()
    method = ("Flow-weighted average price: each trading day's net flow (USD, latest vintage by T) is "
              "converted to BTC at that UTC day's close of the price market in params; cost basis = "
              "sum of net USD / sum of net BTC over all days since launch (outflows remove BTC at their "
              "day's price). GBTC's pre-conversion holdings are excluded (they entered without a flow).")
    px_src = _source(priced.select("date", origin=priced.price_origin), "candles", "date",
                     note=f"daily close of {p['price_venue']} {p['price_symbol']} {p['price_interval']} on each priced flow day")
    detail_b = {"net_usd": float(b["usd"] or 0), "net_btc": float(b["btc"] or 0), "priced_days": int(b["days"] or 0),
                "unpriced_days": [_day(x).isoformat() for x in unpriced], "from": first.isoformat(), "to": day.isoformat()}
    if not b["days"] or not b["btc"] or b["btc"] <= 0:
        basis = not_available("etf.holders_cost_basis_usd", ctx.as_of, "no priced net inflow (net BTC <= 0)",
                              subject=SUBJECT, unit="USD", window=f"since:{first}..{day}", method=method)
        pnl = not_available("etf.holders_pnl_pct", ctx.as_of, "no cost basis", subject=SUBJECT, unit="pct",
                            method=method)
        for f in (basis, pnl):
            f.params, f.detail = p, detail_b
        return cumulative, [basis, pnl]
    cost = float(b["usd"]) / float(b["btc"])
    note = (f"{len(unpriced)} trading day(s) without a published close by T left out: "
            f"{', '.join(detail_b['unpriced_days'])}") if unpriced else None
    basis = Finding(id="etf.holders_cost_basis_usd", subject=SUBJECT, value=round(cost, 2), unit="USD",
                    as_of=ctx.as_of, window=f"since:{first}..{day}", kind="modelled", method=method, params=p,
                    sources=[src, px_src], detail=detail_b, note=note)
    price, hypothetical, observed = ctx.price()
    pnl_method = ("(price / holders' cost basis - 1) x 100, the price being price.last_usd (or the user's "
                  "hypothetical price); unrealized_usd = net BTC x price - net USD.")
    if price is None:
        pnl = not_available("etf.holders_pnl_pct", ctx.as_of, "no current price (price.last_usd) by T",
                            subject=SUBJECT, unit="pct", method=pnl_method, kind="modelled")
        pnl.params = p
        return cumulative, [basis, pnl]
    pnl_sources = [src, px_src] + (list(observed.sources) if observed is not None and not hypothetical else [])
    pnl = Finding(id="etf.holders_pnl_pct", subject=SUBJECT, value=round((price / cost - 1) * 100, 2), unit="pct",
                  as_of=ctx.as_of, window=f"since:{first}..{day}", kind="modelled", method=pnl_method, params=p,
                  sources=pnl_sources, hypothetical=hypothetical,
                  detail={"price_usd": price, "cost_basis_usd": round(cost, 2), "net_btc": float(b["btc"]),
                          "unrealized_usd": float(b["btc"]) * price - float(b["usd"]),
                          "price_finding": observed.id if observed is not None else None})
    return cumulative, [basis, pnl]


def _aum(ctx: Context, p: dict) -> Finding:
    a = ctx.table("etf_aum")
    last = a.date.max().execute()
    if last is None or pd.isna(last):
        f = not_available("etf.aum_usd", ctx.as_of, "no ETF AUM published by T", subject=SUBJECT, unit="USD")
        f.params = p
        return f
    day = _day(last)
    rows = a.filter(a.date == day)
    by_fund = rows.group_by("fund").aggregate(aum_usd=rows.aum_usd.sum()).execute().sort_values("aum_usd", ascending=False)
    total = rows.aum_usd.sum().execute()
    return Finding(id="etf.aum_usd", subject=SUBJECT, value=float(total), unit="USD", as_of=ctx.as_of,
                   window=f"1d:{day}",
                   method="Sum over funds of the assets under management on the latest day published by T.",
                   params=p, sources=[_source(rows, "etf_aum", "date")],
                   detail={"date": day.isoformat(),
                           "by_fund": {r.fund: float(r.aum_usd) for r in by_fund.itertuples()}})


# -- chart series --------------------------------------------------------------------------------

def series(ctx: Context) -> list[Series]:
    p = ctx.area_params(AREA, DEFAULTS)
    d = daily(ctx)
    recent = d.order_by(ibis.desc(d.date)).limit(p["chart_days"])
    days = recent.order_by("date").execute()
    if days.empty:
        return []
    first = _day(days["date"].min())
    f = latest_flows(ctx)
    f = f.filter(f.date >= first)
    wide = f.select("date", "fund", "net_flow_usd").execute()
    dates = [_day(x).isoformat() for x in days["date"]]
    funds = {}
    order = [fd.ticker for fd in etf_funds.packaged()]
    for fund in sorted(set(wide["fund"]), key=lambda t: order.index(t) if t in order else len(order)):
        sub = wide[wide["fund"] == fund].set_index(wide[wide["fund"] == fund]["date"].map(lambda x: _day(x).isoformat()))
        funds[fund] = [None if (k not in sub.index or pd.isna(sub.loc[k, "net_flow_usd"])) else float(sub.loc[k, "net_flow_usd"])
                       for k in dates]
    by_fund = Series(name="etf.daily_flows_by_fund", title=f"US spot BTC ETF net flows by fund, last {len(dates)} trading days",
                     unit="USD", x=dates, y=[float(v) for v in days["net_flow_usd"]],
                     sources=[_source(recent, "etf_flows", "date", rows_col="fund_rows")],
                     extra={"funds": funds, "preliminary": [bool(v) for v in days["preliminary"]],
                            "missing_funds": [m or "" for m in days["missing_funds"]]})
    cum = d.mutate(cumulative_usd=d.net_flow_usd.sum().over(ibis.cumulative_window(order_by=d.date)))
    c = cum.order_by("date").select("date", "cumulative_usd").execute()
    cumulative = Series(name="etf.cumulative_flows", title="US spot BTC ETF cumulative net flows since launch",
                        unit="USD", x=[_day(x).isoformat() for x in c["date"]], y=[float(v) for v in c["cumulative_usd"]],
                        sources=[_source(d, "etf_flows", "date", rows_col="fund_rows")])
    return [by_fund, cumulative]


# -- history (series-first; see btcstress.history) ------------------------------------------------

def history(hctx) -> pd.DataFrame:
    """Every ETF finding at every instant of hctx.instants, set-based per publication (see etf_history)."""
    from btcstress.metrics.etf_history import rows
    return rows(hctx)
