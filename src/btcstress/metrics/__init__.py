"""Metrics: pure functions (store as of T, params) -> findings.

Each area is a module here with `findings(ctx) -> list[Finding]` and, optionally,
`series(ctx) -> list[Series]` for charts. They run in AREAS order, so a later area can read an
earlier one's findings from `ctx.findings` (treasuries value holdings at `price.last_usd`).
Metric code is Ibis expressions over `ctx.table(...)`, never SQL strings, so it runs on any
Ibis backend.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

from btcstress.errors import NoDataError
from btcstress.findings import FindingSet
from btcstress.metrics.context import Context
from btcstress.store import Store

AREAS = ("price", "market", "miners", "etf", "leverage", "treasuries", "stress", "scenario")


def modules():
    """The area modules that exist, in order."""
    out = []
    for area in AREAS:
        try:
            out.append(importlib.import_module(f"btcstress.metrics.{area}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"btcstress.metrics.{area}":
                raise
    return out


def compute(store: Store, as_of: dt.datetime, *, params: dict[str, dict[str, Any]] | None = None,
            price: float | None = None, areas: tuple[str, ...] | None = None,
            with_series: bool = False) -> FindingSet:
    """All findings as of `as_of` (aware or naive UTC). `price` re-values price-dependent findings
    at a hypothetical price. Raises NoDataError when the store has no price data by then."""
    ctx = Context(store=store, as_of=as_of, params=params or {}, price_override=price)
    ctx.require_data()
    series = {}
    for mod in modules():
        area = mod.__name__.rsplit(".", 1)[1]
        if areas and area not in areas:
            continue
        ctx.findings.extend(mod.findings(ctx))
        if with_series and hasattr(mod, "series"):
            for s in mod.series(ctx):
                series[s.name] = s
    return FindingSet(ctx.as_of, ctx.findings, series, ctx.params_used)


__all__ = ["AREAS", "Context", "NoDataError", "compute", "modules"]
