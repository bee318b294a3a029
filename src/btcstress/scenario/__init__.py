"""The scenario engine: what happens if BTC goes to a price P, as of an instant T.

- params.py   every parameter, defaulted in one place (cited in docs/METRICS.md)
- book.py     the simulated book of long positions and the liquidation cascade (pure numpy)
- inputs.py   what the model reads from the store as of T (Ibis)
- engine.py   the scenario findings (liquidations, cascade, hashrate and entities under water, ladder)
- shock.py    parsing of --price / --shock / --ladder
- backtest.py estimated vs realized long liquidations on crash days
"""

from btcstress.scenario.engine import at_price, findings, ladder
from btcstress.scenario.params import DEFAULTS
from btcstress.scenario.shock import parse_ladder, parse_shock, shocked_price

__all__ = ["DEFAULTS", "at_price", "findings", "ladder", "parse_ladder", "parse_shock", "shocked_price"]
