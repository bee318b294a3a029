"""Leverage: liquidations (event level and daily), open interest, funding, leverage ratio."""

from btcstress.areas import Area

AREA = Area(
    name="leverage", title="Leverage", prefixes=("liquidations", "derivatives"),
    metrics="btcstress.metrics.leverage", section="btcstress.brief.sections.leverage",
    charts=True,
    pulls=("binance",),
    streams=("liquidations",),
    force="Leverage",
    pressure=(("liquidations.total_usd", "BTC+ETH"),  # forced selling
              ("derivatives.open_interest_usd", "BTC")),  # deleveraging
)
