"""The miner fleet model, pure: no store, no context (like `btcstress.scenario`).

- `data`: the sourced fleet shipped with the package (ASIC generations, prices per TH, Cambridge figures).
- `params`: the model's parameters with their sources; `params_as_of(day)` for walk-forward runs.
- `simulate`: which machines run each day (profitability rule over a spread of power prices,
  observed hashrate, deployment of the newest generation, depreciation of what runs).
- `costs`: like-for-like definitions (electricity, cash, all-in, marginal), the cost curve, `underwater`.

The miners metric (`btcstress.metrics.miners`) reads the store, builds the daily frame and turns these
into findings.
"""

from btcstress.fleet import costs, data, params, simulate
from btcstress.fleet.costs import BASES, CostCurve, curve, history, underwater
from btcstress.fleet.params import DEFAULTS, params_as_of
from btcstress.fleet.simulate import Fleet

__all__ = ["BASES", "CostCurve", "DEFAULTS", "Fleet", "costs", "curve", "data", "history", "params",
           "params_as_of", "simulate", "underwater"]
