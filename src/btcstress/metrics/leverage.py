"""Leverage: liquidations (daily and event level), open interest, funding, leverage ratio, and the
figures others reported (cited).

Subjects: each asset in `assets` (BTC, ETH) and their sum, named for what it is ("BTC+ETH": the
CryptoQuant exports cover these two coins only, never "all crypto"). Windows: the last complete UTC
day in the data ("1d:2026-02-05") for the daily series; the trailing 24 h ("24h") and the last complete
calendar day for event-level liquidations, where events were recorded.

Where one id has several windows for a subject (24 h and 1 d, or the 1 d and 7 d open-interest
change), the 1 d finding is emitted first, so `FindingSet.get` returns it; the others are reached
with `get(..., window="7d")` (see `pick`). A computed value always wins `get()` over a cited one;
cited ones are found with `kind="cited"`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import numpy as np
import pandas as pd

from btcstress.findings import Finding, FindingSet, Series, Source, not_available
from btcstress.metrics.context import Context, source
from btcstress.metrics import leverage_events

AREA = "leverage"

HISTORY_NEEDS: tuple[str, ...] = ()  # the history reads the tables, not another area's findings
# Definitions in other modules: a change there makes the stored history stale (materialize.version).
HISTORY_CODE = ("btcstress.metrics.leverage_events",)

DEFAULTS: dict[str, Any] = {
    "assets": ["BTC", "ETH"],  # the per-asset subjects; their sum is the subject "BTC+ETH"
    "history_days": 365,  # trailing days of daily history for z-scores and percentiles
    "min_history_days": 180,  # fewer days than this: no z-score
    "chart_days": 90,  # days of daily bars in the brief's chart
    "cited_max_age_hours": 72,  # a cited figure older than this at as-of is not shown
}

DAILY_NOTE = ("CryptoQuant, all exchanges, all symbols; BTC and ETH only (not all coins); its exchange "
              "coverage differs from aggregators such as CoinGlass")
DERIV_NOTE = "CryptoQuant, all exchanges; funding is percent per funding interval averaged across exchanges"
SINGLE_VENUE_NOTE = "one exchange only ({origin}), not the all-exchange CryptoQuant series"


def one_family(s: ibis.Table) -> tuple[ibis.Table, str, bool]:
    """Derivative rows of one origin family, the note that says which, and whether it is CryptoQuant.

    An all-exchange series (CryptoQuant) and a single-venue one (Binance, fetched live) measure
    different things; they are never mixed in one day. CryptoQuant wins where it exists."""
    is_cq = s.origin.contains("cryptoquant")
    found = s.aggregate(cq=s.count(where=is_cq), origins=s.origin.collect(distinct=True)).execute().iloc[0]
    if found["cq"]:
        return s.filter(is_cq), DERIV_NOTE, True
    origins = sorted(found["origins"]) if isinstance(found["origins"], (list, tuple, np.ndarray)) else []
    return s, SINGLE_VENUE_NOTE.format(origin=", ".join(origins) or "-"), False


def combined_name(assets: list[str]) -> str:
    return "+".join(assets)


def subjects(assets: list[str]) -> list[tuple[str, list[str]]]:
    """(subject, its assets): each asset, then their sum when there are several."""
    return [(a, [a]) for a in assets] + ([(combined_name(assets), assets)] if len(assets) > 1 else [])


# -- public helpers (also for the brief and the scenario engine) ---------------------------------

def pick(fs: FindingSet, id: str, subject: str, window_prefix: str = "1d") -> Finding | None:
    """The finding `id` for `subject` whose window starts with `window_prefix` ("1d", "7d", "24h")."""
    f = fs.get(id, subject, window=window_prefix)
    return f if f is not None and f.kind != "cited" else None


def cited(fs: FindingSet, prefix: str = "") -> list[Finding]:
    """Cited findings (figures reported by others), optionally only ids starting with `prefix`."""
    return [f for f in fs if f.kind == "cited" and f.id.startswith(prefix)]


# -- findings ------------------------------------------------------------------------------------

def findings(ctx: Context) -> list[Finding]:
    p = ctx.area_params(AREA, DEFAULTS)
    out: list[Finding] = []
    out += _cited(ctx, p)
    out += leverage_events.findings(ctx, _params(p, "assets"), subjects(list(p["assets"])))
    out += _daily_liquidations(ctx, p)
    out += _derivatives(ctx, p)
    return out


def _params(p: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: p[n] for n in names}


# daily liquidations ---------------------------------------------------------------------------------

def per_asset(t: ibis.Table, assets: list[str], **extra) -> ibis.Table:
    """One row per (date, asset) with both sides known: measures combined across origin rows (the
    snapshot passes the table cut at T; the history the whole table, with `extra` aggregates)."""
    t = t.filter(t.asset.isin(assets))
    g = t.group_by(["date", "asset"]).aggregate(
        long_usd=t.long_usd.max(), short_usd=t.short_usd.max(), long_qty=t.long_qty.max(),
        short_qty=t.short_qty.max(), **{k: f(t) for k, f in extra.items()})
    g = g.filter(g.long_usd.notnull() & g.short_usd.notnull())
    return g.mutate(total_usd=g.long_usd + g.short_usd)


def subject_frame(pa: ibis.Table, subject_assets: list[str], **extra) -> ibis.Table:
    """Daily long/short/total for one asset, or summed over several (days where all are present)."""
    if len(subject_assets) == 1:
        return pa.filter(pa.asset == subject_assets[0])
    s = pa.filter(pa.asset.isin(subject_assets))
    g = s.group_by("date").aggregate(long_usd=s.long_usd.sum(), short_usd=s.short_usd.sum(),
                                     total_usd=s.total_usd.sum(), n=s.asset.nunique(),
                                     **{k: f(s) for k, f in extra.items()})
    return g.filter(g.n == len(subject_assets)).drop("n")


def stat(n, mean, std, le, x) -> dict:
    """One column's statistics as a finding reports them (z to 2 decimals, percentile to 1)."""
    n = int(n)
    ok = n > 1 and std and not pd.isna(std) and std > 0
    return {"n": n, "mean": None if pd.isna(mean) else float(mean), "std": None if pd.isna(std) else float(std),
            "zscore": round(float((x - mean) / std), 2) if ok else None,
            "percentile": round(100.0 * float(le) / n, 1) if n else None}


def _history_stats(frame: ibis.Table, day: dt.date, values: dict[str, float], days: int) -> dict[str, dict]:
    """Mean, std, count and percentile of each column over the `days` days before `day` (Ibis). The
    history computes the same for every day at once (leverage_history.trailing_stats; its means
    differ from these in the last bits only: another summation order)."""
    h = frame.filter((frame.date >= day - dt.timedelta(days=days)) & (frame.date < day))
    aggs = {"n": h.count()}
    for col, x in values.items():
        aggs.update({f"{col}__mean": h[col].mean(), f"{col}__std": h[col].std(),
                     f"{col}__le": (h[col] <= x).cast("int64").sum()})
    row = h.aggregate(**aggs).execute().iloc[0]
    return {c: stat(row["n"], row[f"{c}__mean"], row[f"{c}__std"], row[f"{c}__le"], x) for c, x in values.items()}


def _unusual(stats: dict, min_days: int) -> dict | None:
    if stats["n"] < min_days or stats["zscore"] is None:
        return None
    return {"zscore": stats["zscore"], "percentile": stats["percentile"], "history": "1y daily",
            "days": stats["n"], "mean": stats["mean"]}


def _raw_rows(ctx: Context, table: str, assets: list[str], first: dt.date, last: dt.date,
              column: str | None = None, columns: tuple[str, ...] = (), cryptoquant: bool | None = None
              ) -> pd.DataFrame:
    """The stored rows behind a value (for provenance): date, asset and origin of the rows that carry
    `column` (or any of `columns`); `cryptoquant` keeps only that origin family (see one_family)."""
    t = ctx.table(table)
    t = t.filter(t.asset.isin(assets) & (t.date >= first) & (t.date <= last))
    if cryptoquant is not None:
        t = t.filter(t.origin.contains("cryptoquant") == cryptoquant)
    cols = ((column,) if column else ()) + tuple(columns)
    if cols:
        cond = t[cols[0]].notnull()
        for c in cols[1:]:
            cond = cond | t[c].notnull()
        t = t.filter(cond)
    return t.select("date", "asset", "origin").execute()


def _raw_frame(ctx: Context, table: str, assets: list[str], first: dt.date, last: dt.date,
               columns: tuple[str, ...], cryptoquant: bool | None = None) -> pd.DataFrame:
    """`_raw_rows` for several provenance questions at once: the rows carrying any of `columns` in
    [first, last], with a `has_<column>` flag each; `_pick` cuts out one question's rows (one query
    instead of one per finding)."""
    t = ctx.table(table)
    t = t.filter(t.asset.isin(assets) & (t.date >= first) & (t.date <= last))
    if cryptoquant is not None:
        t = t.filter(t.origin.contains("cryptoquant") == cryptoquant)
    cond = t[columns[0]].notnull()
    for c in columns[1:]:
        cond = cond | t[c].notnull()
    df = t.filter(cond).select("date", "asset", "origin", **{f"has_{c}": t[c].notnull() for c in columns}).execute()
    df["_day"] = df["date"].map(_day)
    return df


def _pick(raw: pd.DataFrame, first: dt.date, last: dt.date, columns: tuple[str, ...]) -> pd.DataFrame:
    """The rows `_raw_rows(..., first, last, columns=columns)` returns, from a `_raw_frame`."""
    keep = (raw["_day"] >= first) & (raw["_day"] <= last) & raw[[f"has_{c}" for c in columns]].any(axis=1)
    return raw.loc[keep, ["date", "asset", "origin"]].reset_index(drop=True)


def _day(v: Any) -> dt.date:
    return pd.Timestamp(v).date()


def _staleness(ctx: Context, day: dt.date) -> str | None:
    expected = ctx.as_of_naive.date() - dt.timedelta(days=1)
    if day < expected:
        return f"the latest complete day in the data is {day}, {(expected - day).days} day(s) before the last complete UTC day"
    return None


def _daily_liquidations(ctx: Context, p: dict[str, Any]) -> list[Finding]:
    assets = list(p["assets"])
    pa = per_asset(ctx.table("liquidations_daily"), assets)
    ids = ("liquidations.long_usd", "liquidations.short_usd", "liquidations.total_usd",
           "liquidations.long_share_pct", "liquidations.zscore_1y")
    params = _params(p, "assets", "history_days", "min_history_days")
    out: list[Finding] = []
    for subject, sub_assets in subjects(assets):
        out += _subject_liquidations(ctx, p, params, subject, sub_assets, subject_frame(pa, sub_assets), ids)
    return out


def _subject_liquidations(ctx: Context, p: dict[str, Any], params: dict, subject: str, sub_assets: list[str],
                          frame, ids: tuple[str, ...]) -> list[Finding]:
    """The latest day's long, short and total liquidations of one subject (an asset or BTC+ETH), the
    long share and the total's z-score against the trailing history."""
    out: list[Finding] = []
    last_rows = frame.filter(frame.date == frame.date.max()).execute()  # the latest day's row (dates unique)
    if not len(last_rows):
        reason = f"no daily liquidations for {subject} published by {ctx.as_of_naive:%Y-%m-%dT%H:%MZ}"
        return [not_available(i, ctx.as_of, reason, subject=subject, unit=_UNITS[i]) for i in ids]
    row = last_rows.iloc[0]
    day = _day(row["date"])
    long_usd, short_usd, total = float(row["long_usd"]), float(row["short_usd"]), float(row["total_usd"])
    stats = _history_stats(frame, day, {"long_usd": long_usd, "short_usd": short_usd, "total_usd": total},
                           p["history_days"])
    window = f"1d:{day}"
    first = day - dt.timedelta(days=p["history_days"])
    raw = _raw_frame(ctx, "liquidations_daily", sub_assets, first, day,
                     ("long_usd", "short_usd", "long_qty", "short_qty"))
    def src_for(*cols: str) -> list[Source]:
        return [source("liquidations_daily", _pick(raw, day, day, cols), time_col="date", note=DAILY_NOTE)]
    src = src_for("long_usd", "short_usd")
    hist_rows = _pick(raw, first, day, ("long_usd", "short_usd"))
    hist_src = [source("liquidations_daily", hist_rows, time_col="date", note=DAILY_NOTE)]
    note = _staleness(ctx, day)
    per = "summed over " + ", ".join(sub_assets) + " (days where each is published)" if len(sub_assets) > 1 else ""
    common = dict(subject=subject, as_of=ctx.as_of, window=window, params=params, note=note)
    detail_qty = {}
    if len(sub_assets) == 1 and not pd.isna(row["long_qty"]) and not pd.isna(row["short_qty"]):
        detail_qty = {"long_qty": float(row["long_qty"]), "short_qty": float(row["short_qty"]),
                      "qty_unit": sub_assets[0]}
    out.append(Finding(id="liquidations.long_usd", value=long_usd, unit="USD", sources=src_for("long_usd", "long_qty"),
                       method=f"long positions liquidated on {day} (USD) {per}".strip(),
                       detail={"date": str(day), **({"qty": detail_qty.get("long_qty"), "qty_unit": detail_qty.get("qty_unit")} if detail_qty else {})},
                       unusual=_unusual(stats["long_usd"], p["min_history_days"]), **common))
    out.append(Finding(id="liquidations.short_usd", value=short_usd, unit="USD", sources=src_for("short_usd", "short_qty"),
                       method=f"short positions liquidated on {day} (USD) {per}".strip(),
                       detail={"date": str(day), **({"qty": detail_qty.get("short_qty"), "qty_unit": detail_qty.get("qty_unit")} if detail_qty else {})},
                       unusual=_unusual(stats["short_usd"], p["min_history_days"]), **common))
    out.append(Finding(id="liquidations.total_usd", value=total, unit="USD", sources=src,
                       method=f"long_usd + short_usd on {day} {per}".strip(),
                       detail={"date": str(day), "assets": sub_assets},
                       unusual=_unusual(stats["total_usd"], p["min_history_days"]), **common))
    if total > 0:
        out.append(Finding(id="liquidations.long_share_pct", value=round(100.0 * long_usd / total, 2), unit="pct",
                           sources=src, method="100 x long_usd / total_usd", detail={"date": str(day)}, **common))
    else:
        out.append(not_available("liquidations.long_share_pct", ctx.as_of, f"no liquidations on {day}",
                                 subject=subject, unit="pct", window=window))
    s = stats["total_usd"]
    if s["zscore"] is None or s["n"] < p["min_history_days"]:
        out.append(not_available("liquidations.zscore_1y", ctx.as_of,
                                 f"only {s['n']} days of history before {day} (need {p['min_history_days']})",
                                 subject=subject, unit="z", window=window))
    else:
        out.append(Finding(id="liquidations.zscore_1y", value=s["zscore"], unit="z", sources=hist_src,
                           method=f"(total_usd on {day} - mean) / sample std of daily total_usd over the "
                                  f"{p['history_days']} days before it",
                           detail={"date": str(day), "mean_usd": s["mean"], "std_usd": s["std"], "days": s["n"],
                                   "percentile": s["percentile"]},
                           unusual=_unusual(s, p["min_history_days"]), **common))
    return out


_UNITS = {"liquidations.long_usd": "USD", "liquidations.short_usd": "USD", "liquidations.total_usd": "USD",
          "liquidations.long_share_pct": "pct", "liquidations.zscore_1y": "z", "liquidations.largest_usd": "USD",
          "liquidations.count": "events", "derivatives.open_interest_usd": "USD",
          "derivatives.open_interest_change_pct": "pct", "derivatives.funding_rate_pct": "pct",
          "derivatives.leverage_ratio": "ratio"}


# derivatives ------------------------------------------------------------------------------------

_DERIV = {  # finding id -> (column, method)
    "derivatives.open_interest_usd": ("open_interest_usd", "open interest in USD for the day, as reported"),
    "derivatives.funding_rate_pct": ("funding_rate_pct", "funding rate for the day (percent per funding interval, "
                                                         "averaged across exchanges), as reported"),
    "derivatives.leverage_ratio": ("leverage_ratio", "estimated leverage ratio for the day: open interest / "
                                                     "exchange reserve, as reported"),
}


def _derivatives(ctx: Context, p: dict[str, Any]) -> list[Finding]:
    t = ctx.table("derivatives_daily")
    params = _params(p, "assets", "history_days", "min_history_days")
    out: list[Finding] = []
    for asset in p["assets"]:
        a = t.filter(t.asset == asset)
        for fid, (col, method) in _DERIV.items():
            s, note, cq = one_family(a.filter(a[col].notnull()))
            daily = s.group_by("date").aggregate(v=s[col].max())
            # The last day and the days 1 and 7 before it, in one query.
            m = daily.date.max()
            near = daily.filter(daily.date.isin([m, m - ibis.interval(days=1), m - ibis.interval(days=7)])).execute()
            if not len(near):
                reason = f"no {col} series for {asset} published by {ctx.as_of_naive:%Y-%m-%dT%H:%MZ}"
                if fid == "derivatives.open_interest_usd":
                    for w in ("1d", "7d"):
                        out.append(not_available("derivatives.open_interest_change_pct", ctx.as_of, reason,
                                                 subject=asset, unit="pct", window=w))
                out.append(not_available(fid, ctx.as_of, reason, subject=asset, unit=_UNITS[fid]))
                continue
            vals = {_day(r.date): float(r.v) for r in near.itertuples()}
            day = max(vals)
            x = vals[day]
            stats = _history_stats(daily, day, {"v": x}, p["history_days"])["v"]
            oi = fid == "derivatives.open_interest_usd"
            raw = _raw_frame(ctx, "derivatives_daily", [asset], day - dt.timedelta(days=7 if oi else 0), day,
                             (col,), cryptoquant=cq)
            rows = _pick(raw, day, day, (col,))
            common = dict(subject=asset, as_of=ctx.as_of, params=params, note=_staleness(ctx, day))
            if fid == "derivatives.open_interest_usd":
                for k in (1, 7):  # 1 d first: the primary window that FindingSet.get returns
                    prev = day - dt.timedelta(days=k)
                    window = f"{k}d:{prev}..{day}"
                    if prev not in vals:
                        out.append(not_available("derivatives.open_interest_change_pct", ctx.as_of,
                                                 f"no open interest for {asset} on {prev}", subject=asset,
                                                 unit="pct", window=window))
                        continue
                    ch_rows = _pick(raw, prev, day, (col,))
                    ch_rows = ch_rows[ch_rows["date"].map(_day).isin([prev, day])]
                    out.append(Finding(
                        id="derivatives.open_interest_change_pct", value=round(100.0 * (x / vals[prev] - 1.0), 2),
                        unit="pct", window=window,
                        method=f"100 x (open interest on {day} / open interest on {prev} - 1)",
                        sources=[source("derivatives_daily", ch_rows, time_col="date", note=note)],
                        detail={"from_usd": vals[prev], "to_usd": x, "days": k}, **common))
            out.append(Finding(id=fid, value=x, unit=_UNITS[fid], window=f"1d:{day}", method=method,
                               sources=[source("derivatives_daily", rows, time_col="date", note=note)],
                               detail={"date": str(day)}, unusual=_unusual(stats, p["min_history_days"]), **common))
    return out


# cited ----------------------------------------------------------------------------------------------

def _cited(ctx: Context, p: dict[str, Any]) -> list[Finding]:
    t = ctx.table("citations")
    oldest = ctx.as_of_naive - dt.timedelta(hours=p["cited_max_age_hours"])
    # Areas that show their own cited figures (miners' published cost estimates) are left to them.
    t = t.filter(~t.finding_id.startswith("miners."))
    rows = t.filter(t.as_of >= oldest).order_by(["finding_id", "subject", "as_of", "source"]).execute()
    out = []
    for r in rows.itertuples():
        as_of = pd.Timestamp(r.as_of).to_pydatetime()
        src = f"{r.source} ({r.url})" if isinstance(r.url, str) and r.url else r.source
        out.append(Finding(
            id=r.finding_id, subject=r.subject, value=float(r.value), unit=r.unit or "", as_of=ctx.as_of,
            window=r.window or "", kind="cited", method=f"reported by {r.source}; not computed by btcstress",
            params=_params(p, "cited_max_age_hours"),
            sources=[Source(table="citations", origin=src, rows=1, first=as_of, last=as_of, note=r.origin)],
            detail={"cited_as_of": as_of.strftime("%Y-%m-%dT%H:%M:%SZ"), "source": r.source,
                    "url": r.url if isinstance(r.url, str) else None},
            note=("cited figure, shown beside computed values and never combined with them"
                  + (f": {r.note}" if isinstance(r.note, str) and r.note else ""))))
    return out


# series -------------------------------------------------------------------------------------------

def series(ctx: Context) -> list[Series]:
    p = ctx.area_params(AREA, DEFAULTS)
    assets = list(p["assets"])
    out: list[Series] = []
    pa = per_asset(ctx.table("liquidations_daily"), assets)
    name = combined_name(assets)
    frame = subject_frame(pa, assets)
    last = frame.date.max().execute()
    if last is not None and not pd.isna(last):
        day = _day(last)
        first = day - dt.timedelta(days=p["chart_days"] - 1)
        df = frame.filter(frame.date >= first).order_by("date").execute()
        rows = _raw_rows(ctx, "liquidations_daily", assets, first, day, columns=("long_usd", "short_usd"))
        out.append(Series(name="leverage.liquidations_daily", title=f"{name} liquidations per day (USD)", unit="USD",
                          x=[str(_day(d)) for d in df["date"]], y=[float(v) for v in df["long_usd"]],
                          sources=[source("liquidations_daily", rows, time_col="date", note=DAILY_NOTE)],
                          extra={"long_usd": [float(v) for v in df["long_usd"]],
                                 "short_usd": [float(v) for v in df["short_usd"]], "subject": name}))
    t = ctx.table("derivatives_daily")
    for col, sname, title in (("open_interest_usd", "leverage.open_interest_daily", "open interest (USD)"),
                              ("funding_rate_pct", "leverage.funding_rate_daily", "funding rate (% per interval)")):
        s, note, cq = one_family(t.filter((t.asset == "BTC") & t[col].notnull()))
        daily = s.group_by("date").aggregate(v=s[col].max())
        last = daily.date.max().execute()
        if last is None or pd.isna(last):
            continue
        day = _day(last)
        first = day - dt.timedelta(days=p["chart_days"] - 1)
        df = daily.filter(daily.date >= first).order_by("date").execute()
        rows = _raw_rows(ctx, "derivatives_daily", ["BTC"], first, day, column=col, cryptoquant=cq)
        out.append(Series(name=sname, title=f"BTC {title}", unit="USD" if col.endswith("usd") else "pct",
                          x=[str(_day(d)) for d in df["date"]], y=[float(v) for v in df["v"]],
                          sources=[source("derivatives_daily", rows, time_col="date", note=note)],
                          extra={"subject": "BTC"}))
    return out


# -- history (series-first; see btcstress.history) ------------------------------------------------

def history(hctx) -> pd.DataFrame:
    """Every leverage finding at every instant of hctx.instants, in a few set-based queries."""
    from btcstress.metrics.leverage_history import rows
    return rows(hctx)
