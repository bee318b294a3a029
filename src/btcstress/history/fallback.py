"""The explicit fallback for areas without a series-first `history`: the snapshot at each instant.

Exact by construction (it *is* the snapshot), and one full area evaluation per instant, so slow:
docs/PERFORMANCE.md gives its cost. The price area runs first at each instant because the others
read the price from it, as in `metrics.compute`; only the asked area's rows are kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from btcstress.errors import NoDataError


def snapshot_rows(store, area: str, instants: list[dt.datetime], *, params: dict[str, dict[str, Any]] | None = None
                  ) -> pd.DataFrame:
    from btcstress.history import CITE, area_modules, area_name, cite_of, conform, empty, row_of
    from btcstress.metrics import stats
    from btcstress.metrics.context import Context
    mods = [m for m in area_modules() if area_name(m) in ("price", area)]
    rows = []
    for t in instants:
        ctx = Context(store=store, as_of=t, params=params or {})
        try:
            ctx.require_data()
        except NoDataError:
            continue  # before or after the data: no finding at all, as `findings --as-of` refuses
        for mod in mods:
            before = len(ctx.findings)
            ctx.findings.extend(mod.findings(ctx))
            if area_name(mod) == area:
                mine = ctx.findings[before:]
                stats.enforce(mine)  # as metrics.compute does: no statistic on a short history
                rows += [{**row_of(f, t), CITE: cite_of(f)} for f in mine]
    return conform(pd.DataFrame(rows)) if rows else empty()
