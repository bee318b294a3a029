"""The ETF area at one instant (the snapshot): its findings and charts from four reads.

Why: the area's questions are about a few hundred trading days (each day's latest vintage, the week,
the streak, the total since launch, the cost basis) and a year of per-fund rows. Asked one by one in
Ibis they were ~27 small queries per instant, each paying ~15 ms of fixed cost. Here the store is read
four times, every read an Ibis expression over the tables cut at the instant (so it runs on any
backend): every vintage of every day with its funds' flows summed (`day_vintages`), the price
market's daily closes on those days, the per-fund rows of the latest vintages from `history_days +
MARGIN_DAYS` before the instant (all of them when a question needs older rows), and the latest AUM
day. The rest is cut in pandas, with the definitions of btcstress.metrics.etf (`latest_days`,
`latest_flows`, `daily`), which the set-based history (etf_history) computes in Ibis:
tests/history/test_parity.py holds both equal. The charts reuse the findings' reads (the same
expressions: the query memo of one computation answers them).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from btcstress.findings import Finding, Series, Source, not_available
from btcstress.metrics import etf
from btcstress.metrics.context import Context
from btcstress.parsers import etf_funds

MARGIN_DAYS = 14  # per-fund rows read beyond the trailing history (the latest trading day is recent)


def day_vintages(ctx: Context) -> pd.DataFrame:
    """Every vintage of every day published by T (etf_flow_days) with its funds' rows summed (net flow,
    row count, the latest origin; null where the vintage has no fund rows), sorted by date and vintage."""
    days = ctx.table("etf_flow_days")
    fl = ctx.table("etf_flows")
    v = fl.group_by(["date", "vintage"]).aggregate(net_flow_usd=fl.net_flow_usd.sum(), fund_rows=fl.count(),
                                                    origin=fl.origin.max())
    j = days.left_join(v, [days.date == v.date, days.vintage == v.vintage])
    df = j.select(days.date, days.vintage, days.preliminary, days.missing_funds, days.total_usd,
                  days.funds_reported, v.net_flow_usd, v.fund_rows, v.origin).execute()
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[s]")
    return df.sort_values(["date", "vintage"], kind="stable", ignore_index=True)


def daily(dv: pd.DataFrame) -> pd.DataFrame:
    """etf.daily over `day_vintages`: per day its latest vintage, kept where funds reported and the
    vintage has fund rows; one row per trading day, sorted by date."""
    latest = dv.groupby("date", sort=False).tail(1)
    d = latest[(latest["funds_reported"] > 0) & latest["fund_rows"].notna()]
    return d.reset_index(drop=True)


def _source(d: pd.DataFrame, table: str, note: str | None = None, rows_col: str | None = "fund_rows",
            origin_col: str = "origin") -> Source:
    """etf._source over rows read: the rows behind them, their date span and distinct origins."""
    origins = sorted(set(d[origin_col].dropna()))
    rows = int(d[rows_col].sum()) if rows_col else len(d)
    return Source(table=table, origin=", ".join(origins) or "-", rows=rows,
                  first=etf._ts(d["date"].min()) if len(d) else None,
                  last=etf._ts(d["date"].max()) if len(d) else None, note=note)


def _missing(v) -> list[str]:
    return [m for m in (v if isinstance(v, str) else "").split(",") if m]


def _unusual(d: pd.DataFrame, value: float, day: dt.date, days: int, col: str = "net_flow_usd") -> dict | None:
    """z-score and percentile of `value` against the trading days of the trailing `days` before `day`."""
    h = d.loc[(d["date"] < pd.Timestamp(day)) & (d["date"] >= pd.Timestamp(day - dt.timedelta(days=days))), col]
    h = h.dropna()
    n = len(h)
    std = h.std() if n > 1 else np.nan
    if n < 20 or not std or pd.isna(std):
        return None
    mean = h.mean()
    return {"zscore": round(float((value - mean) / std), 2),
            "percentile": round(100.0 * float((h <= value).sum()) / n, 1),
            "history": f"{days}d trailing, {n} trading days", "mean": float(mean), "std": float(std),
            "n": n, "calendar": "trading"}


class FundRows:
    """The per-fund rows of each trading day's latest vintage (etf.latest_flows) dated from `lo` on."""

    def __init__(self, ctx: Context, days: int, full: bool = False):
        self.lo = None if full else ctx.as_of_naive.date() - dt.timedelta(days=days + MARGIN_DAYS)
        f = etf.latest_flows(ctx)
        if self.lo is not None:
            f = f.filter(f.date >= self.lo)
        self.df = f.select("date", "fund", "net_flow_usd", "origin").execute()
        self.df["date"] = pd.to_datetime(self.df["date"]).astype("datetime64[s]")

    def covers(self, first: dt.date) -> bool:
        return self.lo is None or first >= self.lo


def fund_rows(ctx: Context, days: int, first: dt.date) -> FundRows:
    """FundRows holding every row from `first` on (read again without the bound when older)."""
    rows = FundRows(ctx, days)
    return rows if rows.covers(first) else FundRows(ctx, days, full=True)


# -- findings ------------------------------------------------------------------------------------

def findings(ctx: Context, p: dict) -> list[Finding]:
    dv = day_vintages(ctx)
    d = daily(dv)
    if d.empty:
        reason = "no US spot BTC ETF flows published by this instant (the first traded on 2024-01-11)"
        out = [not_available(i, ctx.as_of, reason, subject=etf.SUBJECT, unit=etf.UNITS.get(i, "USD")) for i in etf.IDS]
        for f in out:
            f.params = p
        return out
    row = d.iloc[-1]
    day = etf._day(row["date"])
    out: list[Finding] = []
    out.append(_net_flow(ctx, p, dv, d, row, day))
    out.extend(_per_fund(ctx, p, day, row))
    out.append(_week_to_date(ctx, p, d, day))
    out.extend(_streak(ctx, p, d, day))
    cumulative, basis = _cumulative_and_basis(ctx, p, d, day)
    out.append(cumulative)
    out.append(_aum(ctx, p))
    out.extend(basis)
    return out


def _status(row) -> dict:
    return {"vintage": etf._iso(row["vintage"]), "preliminary": bool(row["preliminary"]),
            "missing_funds": _missing(row["missing_funds"])}


def _net_flow(ctx: Context, p: dict, dv: pd.DataFrame, d: pd.DataFrame, row, day: dt.date) -> Finding:
    status = _status(row)
    # Every vintage of that day published by T (with fund rows), so a reader can tell preliminary from final.
    vs = dv[(dv["date"] == pd.Timestamp(day)) & dv["fund_rows"].notna()]
    vintages = [{"vintage": etf._iso(r.vintage), "net_flow_usd": float(r.net_flow_usd),
                 "preliminary": bool(r.preliminary), "missing_funds": _missing(r.missing_funds),
                 "published_total_usd": None if pd.isna(r.total_usd) else float(r.total_usd)}
                for r in vs.itertuples()]
    value = float(row["net_flow_usd"])
    note = None
    if status["preliminary"]:
        note = (f"preliminary: {', '.join(status['missing_funds'])} had not reported in the vintage published "
                f"{status['vintage']}; the total covers the funds that had")
    return Finding(
        id="etf.net_flow_usd", subject=etf.SUBJECT, value=value, unit="USD", as_of=ctx.as_of, window=f"1d:{day}",
        method="Sum of the per-fund net flows (creations minus redemptions, USD) of the latest US trading day "
               "published by T, read from that day's latest vintage published by T; funds not yet reported "
               "in that vintage are listed, not guessed.",
        params=p, sources=[_source(d[d["date"] == pd.Timestamp(day)], "etf_flows")],
        detail={"date": day.isoformat(), **status,
                "published_total_usd": None if pd.isna(row["total_usd"]) else float(row["total_usd"]),
                "funds_reported": int(row["fund_rows"]) - len(status["missing_funds"]),
                "vintages": vintages},
        note=note, unusual=_unusual(d, value, day, p["history_days"]))


def _per_fund(ctx: Context, p: dict, day: dt.date, row) -> list[Finding]:
    f = fund_rows(ctx, p["history_days"], day - dt.timedelta(days=p["history_days"])).df
    today = f[f["date"] == pd.Timestamp(day)]
    # Each fund's own trailing history (reported days only) for `unusual`.
    hist = f[(f["date"] < pd.Timestamp(day)) & (f["date"] >= pd.Timestamp(day - dt.timedelta(days=p["history_days"])))
             & f["net_flow_usd"].notna()]
    stats = hist.groupby("fund").agg(n=("net_flow_usd", "size"), mean=("net_flow_usd", "mean"),
                                     std=("net_flow_usd", "std"))
    names = {fd.ticker: fd for fd in etf_funds.packaged()}
    vintage = etf._ts(row["vintage"])
    out = []
    for r in today.sort_values("fund").itertuples():
        fund = names.get(r.fund)
        src = Source(table="etf_flows", origin=r.origin, rows=1, first=etf._ts(r.date), last=etf._ts(r.date))
        detail = {"date": day.isoformat(), "vintage": etf._iso(vintage), "preliminary": bool(row["preliminary"]),
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


def _week_to_date(ctx: Context, p: dict, d: pd.DataFrame, day: dt.date) -> Finding:
    monday = day - dt.timedelta(days=day.weekday())
    w = d[(d["date"] >= pd.Timestamp(monday)) & (d["date"] <= pd.Timestamp(day))]
    prelim_days = w.loc[w["preliminary"].fillna(False).astype(bool), "date"]
    return Finding(
        id="etf.week_to_date_usd", subject=etf.SUBJECT, value=float(w["net_flow_usd"].sum()), unit="USD",
        as_of=ctx.as_of, window=f"wtd:{monday}..{day}",
        method="Sum of the daily net flows (each day's latest vintage by T) from Monday of the latest "
               "trading day's week through that day.",
        params=p, sources=[_source(w, "etf_flows")],
        detail={"from": monday.isoformat(), "to": day.isoformat(), "trading_days": len(w),
                "preliminary_days": [etf._day(x).isoformat() for x in prelim_days]})


def _streak(ctx: Context, p: dict, d: pd.DataFrame, day: dt.date) -> list[Finding]:
    # The current run: trading days after the last day with a net flow >= 0.
    inflow = d.loc[d["net_flow_usd"] >= 0, "date"]
    last_in = inflow.max() if len(inflow) else None
    run = d[d["date"] > last_in] if last_in is not None else d
    n = len(run)
    per_day = [{"date": etf._day(r.date).isoformat(), "net_flow_usd": float(r.net_flow_usd),
                "preliminary": bool(r.preliminary), "missing_funds": _missing(r.missing_funds)}
               for r in run.itertuples()]
    first = etf._day(run["date"].min()) if n else None
    window = f"streak:{first}..{etf._day(run['date'].max())}" if n else f"streak:none at {day}"
    detail = {"from": first.isoformat() if n else None, "to": day.isoformat(), "days": per_day,
              "previous_inflow_day": etf._day(last_in).isoformat() if last_in is not None else None,
              "preliminary": any(x["preliminary"] for x in per_day)}
    src = [_source(run, "etf_flows")] if n else []
    method = ("Consecutive US trading days, ending with the latest published by T, whose net flow (latest "
              "vintage by T) was negative; 0 when the latest day was an inflow.")
    note = None if n else "the latest trading day was not a net outflow"
    return [
        Finding(id="etf.outflow_streak_days", subject=etf.SUBJECT, value=n, unit="days", as_of=ctx.as_of,
                window=window, method=method, params=p, sources=src, detail=detail, note=note),
        Finding(id="etf.outflow_streak_usd", subject=etf.SUBJECT, value=float(run["net_flow_usd"].sum()) if n else 0.0,
                unit="USD", as_of=ctx.as_of, window=window,
                method="Sum of the daily net flows over the current outflow streak. " + method,
                params=p, sources=src, detail=detail, note=note),
    ]


def _closes(ctx: Context, p: dict, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The price market's daily closes (etf._prices) dated first..last."""
    px = etf._prices(ctx, p)
    px = px.filter((px.date >= first) & (px.date <= last)).execute()
    px["date"] = pd.to_datetime(px["date"]).astype("datetime64[s]")
    return px


def _cumulative_and_basis(ctx: Context, p: dict, d: pd.DataFrame, day: dt.date) -> tuple[Finding, list[Finding]]:
    first = etf._day(d["date"].min())
    src = _source(d, "etf_flows")
    cumulative = Finding(
        id="etf.cumulative_usd", subject=etf.SUBJECT, value=float(d["net_flow_usd"].sum()), unit="USD",
        as_of=ctx.as_of, window=f"since:{first}..{day}",
        method="Sum of the daily net flows of every US trading day since launch (2024-01-11), each day from "
               "its latest vintage published by T. GBTC's assets from before its conversion are not flows.",
        params=p, sources=[src], detail={"from": first.isoformat(), "to": day.isoformat(), "trading_days": len(d),
                                         "preliminary_days": int(d["preliminary"].fillna(False).astype(bool).sum())})

    # Cost basis: each day's net flow buys (or sells) BTC at that day's close.
    j = d.merge(_closes(ctx, p, first, day), on="date", how="left")
    priced = j[j["close"].notna()]
    unpriced = j.loc[j["close"].isna(), "date"]
    usd, btc, n_priced = priced["net_flow_usd"].sum(), (priced["net_flow_usd"] / priced["close"]).sum(), len(priced)
    method = ("Flow-weighted average price: each trading day's net flow (USD, latest vintage by T) is "
              "converted to BTC at that UTC day's close of the price market in params; cost basis = "
              "sum of net USD / sum of net BTC over all days since launch (outflows remove BTC at their "
              "day's price). GBTC's pre-conversion holdings are excluded (they entered without a flow).")
    px_src = _source(priced, "candles", rows_col=None, origin_col="price_origin",
                     note=f"daily close of {p['price_venue']} {p['price_symbol']} {p['price_interval']} on each priced flow day")
    detail_b = {"net_usd": float(usd), "net_btc": float(btc), "priced_days": n_priced,
                "unpriced_days": [etf._day(x).isoformat() for x in unpriced], "from": first.isoformat(),
                "to": day.isoformat()}
    if not n_priced or not btc or btc <= 0:
        basis = not_available("etf.holders_cost_basis_usd", ctx.as_of, "no priced net inflow (net BTC <= 0)",
                              subject=etf.SUBJECT, unit="USD", window=f"since:{first}..{day}", method=method)
        pnl = not_available("etf.holders_pnl_pct", ctx.as_of, "no cost basis", subject=etf.SUBJECT, unit="pct",
                            method=method)
        for f in (basis, pnl):
            f.params, f.detail = p, detail_b
        return cumulative, [basis, pnl]
    cost = float(usd) / float(btc)
    note = (f"{len(unpriced)} trading day(s) without a published close by T left out: "
            f"{', '.join(detail_b['unpriced_days'])}") if len(unpriced) else None
    basis = Finding(id="etf.holders_cost_basis_usd", subject=etf.SUBJECT, value=round(cost, 2), unit="USD",
                    as_of=ctx.as_of, window=f"since:{first}..{day}", kind="modelled", method=method, params=p,
                    sources=[src, px_src], detail=detail_b, note=note)
    price, hypothetical, observed = ctx.price()
    pnl_method = ("(price / holders' cost basis - 1) x 100, the price being price.last_usd (or the user's "
                  "hypothetical price); unrealized_usd = net BTC x price - net USD.")
    if price is None:
        pnl = not_available("etf.holders_pnl_pct", ctx.as_of, "no current price (price.last_usd) by T",
                            subject=etf.SUBJECT, unit="pct", method=pnl_method, kind="modelled")
        pnl.params = p
        return cumulative, [basis, pnl]
    pnl_sources = [src, px_src] + (list(observed.sources) if observed is not None and not hypothetical else [])
    pnl = Finding(id="etf.holders_pnl_pct", subject=etf.SUBJECT, value=round((price / cost - 1) * 100, 2), unit="pct",
                  as_of=ctx.as_of, window=f"since:{first}..{day}", kind="modelled", method=pnl_method, params=p,
                  sources=pnl_sources, hypothetical=hypothetical,
                  detail={"price_usd": price, "cost_basis_usd": round(cost, 2), "net_btc": float(btc),
                          "unrealized_usd": float(btc) * price - float(usd),
                          "price_finding": observed.id if observed is not None else None})
    return cumulative, [basis, pnl]


def _aum(ctx: Context, p: dict) -> Finding:
    a = ctx.table("etf_aum")
    rows = a.filter(a.date == a.date.max()).select("date", "fund", "aum_usd", "origin").execute()
    if rows.empty:
        f = not_available("etf.aum_usd", ctx.as_of, "no ETF AUM published by T", subject=etf.SUBJECT, unit="USD")
        f.params = p
        return f
    day = etf._day(rows["date"].iloc[0])
    by_fund = rows.groupby("fund", as_index=False).agg(aum_usd=("aum_usd", "sum")).sort_values("aum_usd", ascending=False)
    return Finding(id="etf.aum_usd", subject=etf.SUBJECT, value=float(rows["aum_usd"].sum()), unit="USD",
                   as_of=ctx.as_of, window=f"1d:{day}",
                   method="Sum over funds of the assets under management on the latest day published by T.",
                   params=p, sources=[_source(rows, "etf_aum", rows_col=None)],
                   detail={"date": day.isoformat(),
                           "by_fund": {r.fund: float(r.aum_usd) for r in by_fund.itertuples()}})


# -- chart series --------------------------------------------------------------------------------

def series(ctx: Context, p: dict) -> list[Series]:
    d = daily(day_vintages(ctx))
    days = d.tail(p["chart_days"])
    if days.empty:
        return []
    first = etf._day(days["date"].min())
    f = fund_rows(ctx, p["history_days"], first).df
    wide = f[f["date"] >= pd.Timestamp(first)]
    dates = [etf._day(x).isoformat() for x in days["date"]]
    funds = {}
    order = [fd.ticker for fd in etf_funds.packaged()]
    for fund in sorted(set(wide["fund"]), key=lambda t: order.index(t) if t in order else len(order)):
        sub = wide[wide["fund"] == fund]
        sub = sub.set_index(sub["date"].map(lambda x: etf._day(x).isoformat()))
        funds[fund] = [None if (k not in sub.index or pd.isna(sub.loc[k, "net_flow_usd"])) else float(sub.loc[k, "net_flow_usd"])
                       for k in dates]
    by_fund = Series(name="etf.daily_flows_by_fund", title=f"US spot BTC ETF net flows by fund, last {len(dates)} trading days",
                     unit="USD", x=dates, y=[float(v) for v in days["net_flow_usd"]],
                     sources=[_source(days, "etf_flows")],
                     extra={"funds": funds, "preliminary": [bool(v) for v in days["preliminary"]],
                            "missing_funds": [m or "" for m in days["missing_funds"]]})
    # SQL's running sum: nulls skipped, null until the first value
    v = d["net_flow_usd"]
    cum = v.fillna(0.0).cumsum().where(v.notna().cumsum() > 0)
    cumulative = Series(name="etf.cumulative_flows", title="US spot BTC ETF cumulative net flows since launch",
                        unit="USD", x=[etf._day(x).isoformat() for x in d["date"]], y=[float(x) for x in cum],
                        sources=[_source(d, "etf_flows")])
    return [by_fund, cumulative]
