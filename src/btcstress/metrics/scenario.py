"""The scenario area: runs last, so it can read every other area's findings.

Always: `scenario.ladder` (the brief's price ladder: shocks `ladder_pct` from price.last_usd).
With a hypothetical price (`--price`): the scenario findings at that price. The engine lives in
btcstress.scenario; this module only plugs it into metrics.compute.
"""

from __future__ import annotations

from btcstress.findings import Finding
from btcstress.metrics.context import Context
from btcstress.scenario import engine
from btcstress.scenario.params import AREA, DEFAULTS  # noqa: F401  (documented defaults live there)


def findings(ctx: Context) -> list[Finding]:
    return engine.findings(ctx)
