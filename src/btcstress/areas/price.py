"""The price of bitcoin: last, moves, drawdowns, volatility, the dates it is back below."""

from btcstress.areas import Area

AREA = Area(
    name="price", title="Price", prefixes=("price",),
    metrics="btcstress.metrics.price", section="btcstress.brief.sections.price",
    series=("price.daily_180d", "price.hourly_48h"),
    priced=False,  # it is the price
    pulls=("binance",),
)
