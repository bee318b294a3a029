"""The price of bitcoin: last, moves, drawdowns, volatility, the dates it is back below."""

from btcstress.areas import Area

AREA = Area(
    name="price", title="Price", prefixes=("price",),
    metrics="btcstress.metrics.price", section="btcstress.brief.sections.price",
    charts=True,
    priced=False,  # it is the price
    pulls=("binance",),
)
