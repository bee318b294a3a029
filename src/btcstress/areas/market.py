"""The whole crypto market: total capitalisation, its change, bitcoin's dominance, sentiment."""

from btcstress.areas import Area

AREA = Area(
    name="market", title="Market", prefixes=("market",),
    metrics="btcstress.metrics.market", section="btcstress.brief.sections.market",
    charts=True,
    pulls=("binance",),
    force="Market-wide selling",
    pressure=(("market.total_cap_change_usd", None),),  # the day's change in total crypto value
)
