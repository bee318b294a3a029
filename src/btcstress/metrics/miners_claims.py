"""The miners area's claim rules (see btcstress/claims/rules.py): a production cost is modelled and
has several definitions (electricity, cash, all-in), so a claim names one; the reason gives the
definition and power price used, the power-price sensitivity (at which power prices the claim holds),
the estimates published by then (cited), and the other definitions as other readings."""

from __future__ import annotations

from btcstress.claims.rules import ClaimRule, fmt_value, holds
from btcstress.details import CostModel, PublishedCost


def _cost_model(j, f, ok):
    """The sensitivity grid (modelled cost), the definition and the published estimates known by then."""
    out = []
    d = CostModel.of(f)
    if f.kind == "modelled" and d.sensitivity and j.c.comparator in ("gt", "lt", "approx"):
        rows = [(k, v.power_price_usd_kwh, v.fleet_base_weighted) for k, v in d.sensitivity.items()
                if v.fleet_base_weighted is not None]
        hold = [(k, pp, v) for k, pp, v in rows
                if holds(j.c.comparator, float(j.c.value), float(v), j.id, f.unit, j.c.value)[0]]
        band = ", ".join(f"${pp}/kWh: {fmt_value(v, 'USD')}" for _, pp, v in rows)
        out.append(f"power-price sensitivity ({band}): the claim holds at "
                   + (", ".join(f"${pp}/kWh" for _, pp, _ in hold) if hold else "none of them"))
    if d.definition:
        out.append(f"definition: {d.definition} at ${d.power_price_usd_kwh}/kWh")
        pub = [(p, PublishedCost.of(p)) for p in j.fs.all("miners.published_cost_usd") if p.value is not None]
        if pub:
            out.append("published (cited, known by then): " + "; ".join(
                f"{p.subject} {c.published} {fmt_value(p.value, 'USD')} "
                f"({c.definition or 'definition not stated'})" for p, c in pub))
    return out


RULES = [
    ClaimRule(ids=("miners.production_cost_usd", "miners.electricity_cost_usd", "miners.cash_cost_usd",
                   "miners.marginal_cost_usd", "miners.published_cost_usd"), per_btc=True),  # all USD per BTC
    ClaimRule(ids=("miners.production_cost_usd",), alternatives=("miners.cash_cost_usd", "miners.electricity_cost_usd")),
    ClaimRule(ids=("miners.cash_cost_usd",), alternatives=("miners.production_cost_usd", "miners.electricity_cost_usd")),
    ClaimRule(ids=("miners.electricity_cost_usd",), alternatives=("miners.cash_cost_usd", "miners.production_cost_usd")),
    ClaimRule(ids=("miners.*",), reasons=_cost_model),
]
