"""Corporate treasuries: holdings, cost basis, value, unrealized P&L and mNAV per entity, at the
observed price or at any price the user names.

Point in time. `ctx.table` already hides rows not yet published at T: a filing counts from the end
of its filing day, a daily row from the end of its day, the DefiLlama snapshot from when it was
taken. Between filings an entity's holdings and cost are those of its last filing.

Which row an entity's findings use, as of T:
1. its latest row that carries a cost (an 8-K, or an aggregator snapshot that gives one); on the
   same as-of day an 8-K beats a snapshot. Holdings and cost then come from one document, so the
   P&L is never a mix of two dates.
2. otherwise its latest holdings-only row (the Artemis daily series, a snapshot without cost):
   holdings are filled from it, flagged in `sources`, and every cost-based finding is not available.
   Cost is never invented.
A daily series newer than the last filing is not mixed in; the finding's detail reports it
(`daily_series_btc`, `daily_series_as_of`) and a note says so when it differs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

import ibis
import numpy as np
import pandas as pd

from btcstress.findings import Finding, Series, Source, not_available
from btcstress.metrics.context import Context

AREA = "treasuries"
DEFAULTS: dict[str, Any] = {
    # Artemis' fully diluted EV / NAV; DefiLlama's 'realized_mnav' is the other measure stored.
    "mnav_measure": "fd_ev_nav",
    # How far back "how unusual is this mNAV" looks (daily rows).
    "unusual_history_days": 365,
    # Chart: Strategy's average cost against the daily close since this day.
    "chart_entity": "Strategy",
    "chart_start": "2020-01-01",
    "chart_price": "cryptoquant:BTC-USD:1d",
}

TOTAL_SUBJECT = "entities with known cost"
HOLDINGS_ONLY_NOTE = "holdings from {origin}; cost unknown"


# -- rows -------------------------------------------------------------------------------------------

def report_order(t: ibis.Table) -> list:
    """Which of an entity's rows is its latest report: by as-of day, then a filing before a snapshot,
    then the latest published, then origin (a total order; the history ranks with it too)."""
    return [ibis.desc(t.as_of), ibis.desc((t.basis == "filing").cast("int8")), ibis.desc(t.available_at), t.origin]


def latest_per_entity(t: ibis.Table, by: tuple[str, ...] = ()) -> ibis.Table:
    """Each entity's latest row (`report_order`), per `by` group too."""
    w = ibis.window(group_by=[*(t[b] for b in by), t.entity], order_by=report_order(t))
    ranked = t.mutate(_rank=ibis.row_number().over(w))
    return ranked.filter(ranked._rank == 0).drop("_rank")


def positions(ctx: Context) -> pd.DataFrame:
    """One row per entity known at T: the row its findings use, with `has_cost` and the newest
    holdings-only figure beside it. Heavy lifting in Ibis; the result is one row per entity."""
    h = ctx.table("treasury_holdings")
    with_cost = latest_per_entity(h.filter(h.cost_usd.notnull()))
    with_cost = with_cost.mutate(avg_cost_usd=with_cost.avg_cost_usd.fill_null(with_cost.cost_usd / with_cost.btc),
                                 has_cost=ibis.literal(True))
    only = latest_per_entity(h.filter(h.cost_usd.isnull()))
    cols = ["entity", "as_of", "btc", "cost_usd", "avg_cost_usd", "period_btc", "period_cost_usd",
            "period_avg_usd", "filing_date", "document", "basis", "origin", "available_at"]
    fallback = only.anti_join(with_cost, "entity").mutate(has_cost=ibis.literal(False))
    a, b = with_cost.select(*cols, "has_cost"), fallback.select(*cols, "has_cost")
    chosen = a.union(b.cast(a.schema()))
    side = only.select(entity=only.entity, daily_series_btc=only.btc, daily_series_as_of=only.as_of,
                       daily_series_origin=only.origin)
    joined = chosen.left_join(side, "entity").drop("entity_right")
    return joined.order_by([ibis.desc(joined.btc), joined.entity]).execute()


# -- findings ---------------------------------------------------------------------------------------

def findings(ctx: Context) -> list[Finding]:
    p = ctx.area_params(AREA, DEFAULTS)
    price, hypothetical, observed = ctx.price()
    pos = positions(ctx)
    out: list[Finding] = []
    if pos.empty:
        for fid, unit in (("treasury.total_holdings_btc", "BTC"), ("treasury.total_unrealized_pnl_usd", "USD")):
            out.append(not_available(fid, ctx.as_of, "no treasury holdings published by as-of", subject=TOTAL_SUBJECT,
                                     unit=unit))
        return out
    from btcstress.metrics import treasuries_mnav  # (it imports this module's helpers)
    valued = _valued(pos, price)
    mnav = treasuries_mnav.latest(ctx, p)
    for row in valued.itertuples(index=False):
        out += _entity_findings(ctx, p, row, price, hypothetical, observed)
        out.append(treasuries_mnav.finding(ctx, p, row.entity, mnav.get(row.entity)))
    out += _totals(ctx, p, valued, price, hypothetical, observed)
    return out


def _valued(pos: pd.DataFrame, price: float | None) -> pd.DataFrame:
    """Price-dependent columns of the (small) position table, one row per entity (IEEE arithmetic, as
    the engine's; the history computes the same per instant: treasuries_history._valued)."""
    v = pos.copy()
    px = np.nan if price is None else float(price)
    cost_basis = v["btc"] * v["avg_cost_usd"]
    pnl = v["btc"] * (px - v["avg_cost_usd"])
    v["value_usd"] = v["btc"] * px
    v["unrealized_pnl_usd"] = pnl
    v["unrealized_pnl_pct"] = pnl / cost_basis * 100.0
    return v


def _holdings_source(row) -> Source:
    ts = dt.datetime.combine(row.as_of, dt.time()) if not isinstance(row.as_of, dt.datetime) else row.as_of
    note = None
    if not row.has_cost:
        note = HOLDINGS_ONLY_NOTE.format(origin=_source_label(row.origin))
    elif row.basis == "filing":
        note = f"SEC 8-K filed {_d(row.filing_date)} ({row.document}), holdings as of {_d(row.as_of)}"
    else:
        note = f"{_basis_label(row.basis)}, last announcement {_d(row.as_of)}"
    return Source(table="treasury_holdings", origin=row.origin, rows=1, first=ts, last=ts, note=note)


def _price_sources(hypothetical: bool, observed: Finding | None) -> list[Source]:
    if hypothetical or observed is None:
        return []
    return list(observed.sources)


def _entity_findings(ctx: Context, p: dict, row, price: float | None, hypothetical: bool,
                     observed: Finding | None) -> list[Finding]:
    """One entity's holdings and cost findings from its report (`row`), then those valued at the price."""
    e, T = row.entity, ctx.as_of
    src = [_holdings_source(row)]
    window = f"holdings as of {_d(row.as_of)}"
    detail = {"as_of": _d(row.as_of), "basis": row.basis, "origin": row.origin,
              "available_at": _iso(row.available_at)}
    if row.basis == "filing":
        detail.update(filing_date=_d(row.filing_date), document=row.document,
                      period_btc=_num(row.period_btc), period_cost_usd=_num(row.period_cost_usd),
                      period_avg_usd=_num(row.period_avg_usd))
    note = None
    if _num(row.daily_series_btc) is not None and row.daily_series_as_of is not None \
            and row.daily_series_as_of > row.as_of:
        detail.update(daily_series_btc=_num(row.daily_series_btc), daily_series_as_of=_d(row.daily_series_as_of),
                      daily_series_origin=row.daily_series_origin)
        if row.has_cost and abs(row.daily_series_btc - row.btc) > 0.5:
            note = (f"differs from the {_source_label(row.daily_series_origin)}, which carries "
                    f"{row.daily_series_btc:,.0f} BTC on {_d(row.daily_series_as_of)}; holdings and cost are kept "
                    "from the same report")
    common = dict(subject=e, as_of=T, params=p, detail=detail)
    out = [Finding(id="treasury.holdings_btc", value=float(row.btc), unit="BTC", window=window,
                   method="BTC held per the entity's latest report published by as-of "
                          "(filing > snapshot > daily series; see docs/METRICS.md)",
                   sources=src, note=note if row.has_cost else HOLDINGS_ONLY_NOTE.format(
                       origin=_source_label(row.origin)), **common)]
    cost_ids = (("treasury.avg_cost_usd", "USD"), ("treasury.cost_usd", "USD"), ("treasury.breakeven_price_usd", "USD"),
                ("treasury.unrealized_pnl_usd", "USD"), ("treasury.unrealized_pnl_pct", "pct"))
    if not row.has_cost:
        reason = (f"{e}'s cost basis is not published in the data (holdings from "
                  f"{_source_label(row.origin)} only); cost is never estimated")
        for fid, unit in cost_ids:
            out.append(not_available(fid, T, reason, subject=e, unit=unit, window=window))
    else:
        out += [
            Finding(id="treasury.avg_cost_usd", value=float(row.avg_cost_usd), unit="USD", window=window,
                    method="average purchase price per BTC as reported (incl. fees); aggregate cost / holdings "
                           "where only the aggregate is given", sources=src, **common),
            Finding(id="treasury.cost_usd", value=float(row.cost_usd), unit="USD", window=window,
                    method="aggregate purchase price of the BTC held, as reported", sources=src, **common),
            Finding(id="treasury.breakeven_price_usd", value=float(row.avg_cost_usd), unit="USD", window=window,
                    method="BTC price at which unrealized P&L is zero = average cost per BTC", sources=src, **common),
        ]
    return out + _priced(ctx, p, row, price, hypothetical, observed, src, window, common, cost_ids[3:])


def _priced(ctx: Context, p: dict, row, price: float | None, hypothetical: bool, observed: Finding | None,
            src: list[Source], window: str, common: dict, pnl_ids: tuple) -> list[Finding]:
    """An entity's value and unrealized P&L at the price (observed or hypothetical)."""
    e, T, detail = row.entity, ctx.as_of, common["detail"]
    out: list[Finding] = []
    if price is None:
        reason = "no BTC price at as-of (price.last_usd not available)"
        out.append(not_available("treasury.value_usd", T, reason, subject=e, unit="USD", window=window))
        if row.has_cost:
            out += [not_available(fid, T, reason, subject=e, unit=unit, window=window) for fid, unit in pnl_ids]
    else:
        psrc = src + _price_sources(hypothetical, observed)
        pdetail = {**detail, "price_usd": price,
                   "price_from": "hypothetical (--price)" if hypothetical else "price.last_usd"}
        pcommon = dict(common, detail=pdetail, hypothetical=hypothetical)
        out.append(Finding(id="treasury.value_usd", value=float(row.value_usd), unit="USD", window=window,
                           method="holdings x price", sources=psrc, **pcommon))
        if row.has_cost:
            out += [
                Finding(id="treasury.unrealized_pnl_usd", value=float(row.unrealized_pnl_usd), unit="USD",
                        window=window, method="holdings x (price - average cost)", sources=psrc, **pcommon),
                Finding(id="treasury.unrealized_pnl_pct", value=float(row.unrealized_pnl_pct), unit="pct",
                        window=window, method="unrealized P&L / (holdings x average cost) x 100 = "
                                              "(price / average cost - 1) x 100",
                        unusual=_pnl_unusual(ctx, p, e, float(row.unrealized_pnl_pct)),
                        sources=psrc, **pcommon),
            ]
    return out


def _totals(ctx: Context, p: dict, valued: pd.DataFrame, price: float | None, hypothetical: bool,
            observed: Finding | None) -> list[Finding]:
    T = ctx.as_of
    has = valued["has_cost"].astype(bool)
    kn = valued[has]
    agg = pd.Series({"n": len(kn), "btc": kn["btc"].sum(), "pnl": kn["unrealized_pnl_usd"].sum(),
                     "cost": (kn["btc"] * kn["avg_cost_usd"]).sum()})
    rest = pd.Series({"n": int((~has).sum()), "btc": valued.loc[~has, "btc"].sum()})
    entities = [{"entity": r.entity, "holdings_btc": float(r.btc), "as_of": _d(r.as_of)} for r in kn.itertuples()]
    unknown = [{"entity": r.entity, "holdings_btc": float(r.btc), "as_of": _d(r.as_of)}
               for r in valued[~valued.has_cost].itertuples()]
    detail = {"entities": entities, "entities_without_cost": unknown,
              "btc_without_cost": float(rest.btc) if int(rest.n) else 0.0}
    src = [_holdings_source(r) for r in kn.itertuples()]
    if int(agg.n) == 0:
        reason = "no entity's cost basis is published by as-of"
        return [not_available("treasury.total_holdings_btc", T, reason, subject=TOTAL_SUBJECT, unit="BTC"),
                not_available("treasury.total_unrealized_pnl_usd", T, reason, subject=TOTAL_SUBJECT, unit="USD")]
    out = [Finding(id="treasury.total_holdings_btc", subject=TOTAL_SUBJECT, value=float(agg.btc), unit="BTC",
                   as_of=T, window="latest report per entity", params=p, sources=src, detail=detail,
                   method="sum of holdings over the entities whose cost basis is known "
                          "(those without are listed in detail, not added)")]
    if price is None:
        out.append(not_available("treasury.total_unrealized_pnl_usd", T, "no BTC price at as-of",
                                 subject=TOTAL_SUBJECT, unit="USD"))
    else:
        out.append(Finding(id="treasury.total_unrealized_pnl_usd", subject=TOTAL_SUBJECT, value=float(agg.pnl),
                           unit="USD", as_of=T, window="latest report per entity", params=p,
                           sources=src + _price_sources(hypothetical, observed), hypothetical=hypothetical,
                           detail={**detail, "cost_basis_usd": float(agg.cost), "price_usd": price,
                                   "price_from": "hypothetical (--price)" if hypothetical else "price.last_usd"},
                           method="sum over entities with known cost of holdings x (price - average cost)"))
    return out


def _pnl_unusual(ctx: Context, p: dict, entity: str, current: float) -> dict | None:
    """How the P&L % compares with the entity's own daily P&L % over the past year: each day's close
    against the average cost of the latest report published by that day's close."""
    days = int(p["unusual_history_days"])
    j = _cost_vs_close(ctx, p, entity, ctx.as_of_naive - dt.timedelta(days=days))
    j = j[j["avg_cost"].notna()]
    pct = (j["close"] / j["avg_cost"] - 1.0) * 100.0
    n, sd = len(j), pct.std()
    if n < 30 or _num(sd) in (None, 0.0):
        return None
    return {"zscore": round((current - float(pct.mean())) / float(sd), 2),
            "percentile": round(float((pct <= current).sum()) / n * 100.0, 1),
            "history": f"{n} daily closes since {_d(j['day'].min())} vs the average cost known each day",
            "n": n}


def _cost_vs_close(ctx: Context, p: dict, entity: str, start: dt.datetime) -> pd.DataFrame:
    """Daily closes since `start` (sorted by day), each with the entity's average cost from the latest
    report with a cost published by that day's close: an as-of join, so no day sees a later report.
    Two small Ibis reads (the closes; the entity's reports with a cost) joined in pandas (`merge_asof`:
    the latest report published at or before the close; among reports published at the same instant,
    the latest as-of day, then the first origin), as the history's range join ranks them."""
    venue, symbol, interval = p["chart_price"].split(":")
    c = ctx.table("candles")
    c = c.filter((c.venue == venue) & (c.symbol == symbol) & (c.interval == interval) & (c.open_time >= start))
    closes = c.select(day=c.open_time, close=c.close, known_at=c.available_at, price_origin=c.origin).execute()
    h = ctx.table("treasury_holdings")
    h = h.filter((h.entity == entity) & h.cost_usd.notnull())
    reports = h.select(avg_cost=h.avg_cost_usd.fill_null(h.cost_usd / h.btc), btc=h.btc, published=h.available_at,
                       report_as_of=h.as_of, cost_origin=h.origin).execute()
    reports = reports.sort_values(["published", "report_as_of", "cost_origin"], ascending=[True, False, True],
                                  kind="stable").drop_duplicates("published", keep="first")
    closes = closes.sort_values("known_at", kind="stable")
    closes["known_at"] = closes["known_at"].astype("datetime64[us]")
    reports["published"] = reports["published"].astype("datetime64[us]")
    j = pd.merge_asof(closes, reports, left_on="known_at", right_on="published", direction="backward")
    return j.sort_values("day", kind="stable", ignore_index=True)


# -- series -----------------------------------------------------------------------------------------

def series(ctx: Context) -> list[Series]:
    """Strategy's average cost (as known each day, a step at each filing) against the daily BTC close."""
    p = ctx.area_params(AREA, DEFAULTS)
    # Each day shows the average cost of the latest report published by that day's close.
    df = _cost_vs_close(ctx, p, p["chart_entity"], dt.datetime.fromisoformat(p["chart_start"]))
    if df.empty:
        return []
    used = df[df.avg_cost.notna()]
    sources = [Source(table="candles", origin=", ".join(sorted(set(df.price_origin))), rows=len(df),
                      first=pd.Timestamp(df.day.min()).to_pydatetime(), last=pd.Timestamp(df.day.max()).to_pydatetime())]
    if len(used):
        sources.append(Source(table="treasury_holdings", origin=", ".join(sorted(set(used.cost_origin))),
                              rows=int(used.report_as_of.nunique()),
                              first=pd.Timestamp(used.report_as_of.min()).to_pydatetime(),
                              last=pd.Timestamp(used.report_as_of.max()).to_pydatetime(),
                              note="reports with a cost basis; a step on each publication day"))
    return [Series(
        name="treasury.strategy_avg_cost_vs_price",
        title=f"{p['chart_entity']}: average cost per BTC vs the BTC daily close",
        unit="USD",
        x=[pd.Timestamp(d).date().isoformat() for d in df.day],
        y=[_num(v) for v in df.avg_cost],
        sources=sources,
        extra={"price_close_usd": [float(v) for v in df.close], "holdings_btc": [_num(v) for v in df.btc],
               "y_label": "average cost (USD/BTC)", "price_label": "BTC daily close (USD)",
               "entity": p["chart_entity"]},
    )]


# -- for the scenario engine (issue 8) ---------------------------------------------------------------

@dataclass(frozen=True)
class Underwater:
    entity: str
    holdings_btc: float
    avg_cost_usd: float
    pnl_usd: float
    pnl_pct: float


def underwater_at(findings: Iterable[Finding], price: float) -> list[Underwater]:
    """The entities whose unrealized P&L is negative at `price`, deepest loss first. Pure: reads
    each entity's treasury.holdings_btc and treasury.avg_cost_usd findings (entities without a
    known cost are left out) and re-values them; nothing else."""
    holdings, cost = {}, {}
    for f in findings:
        if f.value is None:
            continue
        if f.id == "treasury.holdings_btc":
            holdings[f.subject] = float(f.value)
        elif f.id == "treasury.avg_cost_usd":
            cost[f.subject] = float(f.value)
    out = []
    for entity, avg in cost.items():
        btc = holdings.get(entity)
        if btc is None or not price < avg:
            continue
        out.append(Underwater(entity, btc, avg, btc * (price - avg), (price / avg - 1.0) * 100.0))
    return sorted(out, key=lambda u: u.pnl_usd)


# -- helpers ----------------------------------------------------------------------------------------

def _num(v) -> float | None:
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return float(v)


def _d(v) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return pd.Timestamp(v).date().isoformat()


def _iso(v) -> str | None:
    if v is None or pd.isna(v):
        return None
    return pd.Timestamp(v).strftime("%Y-%m-%dT%H:%M:%SZ")


def _source_label(origin: str) -> str:
    o = origin.lower()
    if "artemis" in o:
        return "Artemis daily series"
    if "defillama" in o:
        return "DefiLlama institutions snapshot"
    if "8k" in o or "8-k" in o:
        return "SEC 8-K filings"
    return origin


def _basis_label(basis: str) -> str:
    return {"filing": "SEC filing", "daily": "daily holdings series",
            "snapshot": "aggregator snapshot"}.get(basis, basis)


# -- history (series-first; see btcstress.history) ------------------------------------------------

def history(hctx) -> pd.DataFrame:
    """Every treasury finding at every instant of hctx.instants, set-based (see treasuries_history)."""
    from btcstress.metrics.treasuries_history import rows
    return rows(hctx)
