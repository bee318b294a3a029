"""The scenario model, pure: no store, no context (like `btcstress.fleet`). What happens to forced
selling if BTC goes to a price P.

- params.py       every parameter, defaulted in one place (cited in docs/METRICS.md)
- book.py         the simulated book of long positions and the liquidation cascade (pure numpy)
- shock.py        parsing of --price / --shock / --ladder
- calibration.py  the at-risk share fitted on the backtest's crash days (constants)

"Scenario" names three related things, each in its own place:
- this package: the model (above);
- the scenario *area* (`metrics/scenario.py`, declared in `areas/scenario.py`): reads the store as of T
  (`metrics/scenario_inputs.py`), runs the model and writes the `scenario.*` findings; its backtest
  against realized liquidations is `metrics/scenario_backtest.py`;
- the scenario *command* (`btcstress scenario`, `GET /scenario`, the MCP tool): every finding at a
  hypothetical price P (`ctx.price_override`; such findings carry `hypothetical: true`) plus the
  scenario area's findings.
"""

from btcstress.scenario.params import DEFAULTS
from btcstress.scenario.shock import parse_ladder, parse_shock, shocked_price

__all__ = ["DEFAULTS", "parse_ladder", "parse_shock", "shocked_price"]
