"""Metrics: pure functions (store as of T, params) -> findings.

Each area (declared once in the area registry, btcstress.areas) names a module here with
`findings(ctx) -> list[Finding]` and, optionally, `series(ctx) -> list[Series]` for charts. They run
in the registry's order, so a later area can read an earlier one's findings from `ctx.findings`
(treasuries value holdings at `price.last_usd`).
Metric code is Ibis expressions over `ctx.table(...)`, never SQL strings, so it runs on any
Ibis backend.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from btcstress import areas as registry
from btcstress.errors import NoDataError
from btcstress.findings import FindingSet
from btcstress.metrics.context import Context
from btcstress.store import Store


def modules():
    """Every registered area's metrics module, in computing order (a broken one raises AreaError)."""
    return [a.module() for a in registry.all()]


def compute(store: Store, as_of: dt.datetime, *, params: dict[str, dict[str, Any]] | None = None,
            price: float | None = None, areas: tuple[str, ...] | None = None,
            with_series: bool = False) -> FindingSet:
    """All findings as of `as_of` (aware or naive UTC). `price` re-values price-dependent findings
    at a hypothetical price. Raises NoDataError when the store has no price data by then."""
    from btcstress import querymemo
    with querymemo.scope():  # the store does not change during one computation: a repeated query runs once
        return _compute(Context(store=store, as_of=as_of, params=params or {}, price_override=price,
                                with_series=with_series), areas, with_series)


def _compute(ctx: Context, areas: tuple[str, ...] | None, with_series: bool) -> FindingSet:
    ctx.require_data()
    series = {}
    for area in registry.all():
        if areas and area.name not in areas:
            continue
        mod = area.module()
        ctx.findings.extend(mod.findings(ctx))
        if with_series and area.charts:
            for s in mod.series(ctx):
                if not area.owns_series(s.name):
                    raise registry.AreaError(f"area {area.name} drew series {s.name!r}, outside its namespace "
                                             f"({', '.join(dict.fromkeys((area.name, *area.prefixes)))})")
                series[s.name] = s
    from btcstress.metrics import stats
    stats.enforce(ctx.findings)  # one minimum history for every area's z-scores and percentiles
    from btcstress.quality import mark
    mark.mark(ctx, ctx.findings)  # findings computed from a flagged value say so (docs/DATA.md)
    return FindingSet(ctx.as_of, ctx.findings, series, ctx.params_used)


__all__ = ["Context", "NoDataError", "compute", "modules"]
