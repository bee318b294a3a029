"""Treasuries: each entity's mNAV (the source's multiple of net asset value), cited with how unusual it
is against the entity's own daily history. A cited figure: the share count, debt and cash behind it are
not in the store, so it is never recomputed or re-valued at a hypothetical price."""

from __future__ import annotations

import datetime as dt

import ibis

from btcstress.findings import Finding, Source, not_available
from btcstress.metrics.context import Context
from btcstress.metrics.treasuries import _d, _num

NEGATIVE_MNAV = "zero or negative: the source's enterprise value is at or below zero; not a premium or discount"


def valuation_order(v: ibis.Table) -> list:
    """An entity's current valuation row: the latest day, then the latest published, then origin."""
    return [ibis.desc(v.date), ibis.desc(v.available_at), v.origin]


def latest(ctx: Context, p: dict) -> dict[str, dict]:
    """Each entity's latest multiple of the chosen measure, with how unusual it is vs its own history."""
    v = ctx.table("treasury_valuation_daily")
    v = v.filter(v.measure == p["mnav_measure"])
    w = ibis.window(group_by=v.entity, order_by=valuation_order(v))
    ranked = v.mutate(_rank=ibis.row_number().over(w))
    cur = ranked.filter(ranked._rank == 0).select(entity=ranked.entity, cur_date=ranked.date, cur=ranked.value,
                                                  cur_origin=ranked.origin)
    j = v.join(cur, "entity")
    j = j.filter((j.date > j.cur_date - ibis.interval(days=int(p["unusual_history_days"]))) & (j.date <= j.cur_date))
    stats = j.group_by(["entity", "cur_date", "cur", "cur_origin"]).aggregate(
        n=j.count(), first=j.date.min(), mean=j.value.mean(), sd=j.value.std(),
        at_or_below=(j.value <= j.cur).cast("int64").sum())
    stats = stats.mutate(zscore=(stats.cur - stats.mean) / stats.sd,
                         percentile=stats.at_or_below.cast("float64") / stats.n * 100.0)
    return {r.entity: r._asdict() for r in stats.execute().itertuples(index=False)}


def finding(ctx: Context, p: dict, entity: str, m: dict | None) -> Finding:
    """treasury.mnav for one entity from its `latest` row (cited; not available when none)."""
    if m is None:
        return not_available("treasury.mnav", ctx.as_of, f"no {p['mnav_measure']} published for {entity} by as-of",
                             subject=entity, unit="ratio", kind="cited")
    day = _d(m["cur_date"])
    ts = dt.datetime.combine(m["cur_date"], dt.time()) if not isinstance(m["cur_date"], dt.datetime) else m["cur_date"]
    first = dt.datetime.combine(m["first"], dt.time()) if not isinstance(m["first"], dt.datetime) else m["first"]
    note = None
    if m["cur"] <= 0:
        note = NEGATIVE_MNAV
    unusual = None
    if int(m["n"]) >= 30 and _num(m["zscore"]) is not None:
        unusual = {"zscore": round(float(m["zscore"]), 2), "percentile": round(float(m["percentile"]), 1),
                   "history": f"{int(m['n'])} daily values since {_d(m['first'])}", "n": int(m["n"])}
    return Finding(
        id="treasury.mnav", subject=entity, value=float(m["cur"]), unit="ratio", as_of=ctx.as_of,
        window=f"1d:{day}", kind="cited", params=p, unusual=unusual, note=note,
        method=f"{_measure_label(p['mnav_measure'])} as published by the source (its share count, debt and "
               "cash are not in the store, so it is cited, not recomputed); observed, never re-valued at a "
               "hypothetical price",
        sources=[Source(table="treasury_valuation_daily", origin=m["cur_origin"], rows=int(m["n"]), first=first,
                        last=ts, note=f"measure {p['mnav_measure']}")],
        detail={"date": day, "measure": p["mnav_measure"]})



def _measure_label(measure: str) -> str:
    return {"fd_ev_nav": "fully diluted enterprise value / net asset value of the BTC held (Artemis)",
            "realized_mnav": "realized mNAV (DefiLlama)"}.get(measure, measure)
