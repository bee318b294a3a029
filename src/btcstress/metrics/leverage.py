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
import pandas as pd

from btcstress.findings import Finding, FindingSet, Series, Source, not_available
from btcstress.metrics.context import Context
from btcstress.metrics import leverage_events

AREA = "leverage"

HISTORY_NEEDS: tuple[str, ...] = ()  # the history reads the tables, not another area's findings
# Definitions in other modules: a change there makes the stored history stale (materialize.version).
HISTORY_CODE = ("btcstress.metrics.leverage_events", "btcstress.metrics.leverage_daily")  # daily: the late-revision fallback

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
    from btcstress.metrics import leverage_daily  # it reads this module's definitions
    out += leverage_daily.liquidations(ctx, p)
    out += leverage_daily.derivatives(ctx, p)
    return out


def _params(p: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: p[n] for n in names}


# daily liquidations ---------------------------------------------------------------------------------

def per_asset(t: ibis.Table, assets: list[str], **extra) -> ibis.Table:
    """One row per (date, asset) with both sides known: measures combined across origin rows (the
    history's definition over the whole table, with `extra` aggregates; the snapshot computes the same
    over the rows it read: leverage_daily.per_asset)."""
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


def _unusual(stats: dict, min_days: int) -> dict | None:
    if stats["n"] < min_days or stats["zscore"] is None:
        return None
    return {"zscore": stats["zscore"], "percentile": stats["percentile"], "history": "1y daily",
            "days": stats["n"], "mean": stats["mean"]}


def _staleness(ctx: Context, day: dt.date) -> str | None:
    expected = ctx.as_of_naive.date() - dt.timedelta(days=1)
    if day < expected:
        return f"the latest complete day in the data is {day}, {(expected - day).days} day(s) before the last complete UTC day"
    return None


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
    from btcstress.metrics import leverage_daily
    return leverage_daily.series(ctx, ctx.area_params(AREA, DEFAULTS))


# -- history (series-first; see btcstress.history) ------------------------------------------------

def history(hctx) -> pd.DataFrame:
    """Every leverage finding at every instant of hctx.instants, in a few set-based queries."""
    from btcstress.metrics.leverage_history import rows
    return rows(hctx)
