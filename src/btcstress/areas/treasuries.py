"""Corporate treasuries: holdings from filings, their value and P&L at the price, Strategy's mNAV."""

from btcstress.areas import Area

AREA = Area(
    name="treasuries", title="Corporate treasuries", prefixes=("treasury",),
    metrics="btcstress.metrics.treasuries", section="btcstress.brief.sections.treasuries",
    charts=True,
    priced=True,  # holdings valued at price.last_usd
    pulls=("edgar",),
    force="Corporate treasuries",
    pressure=(("treasury.mnav", "Strategy"),),  # the premium that funds the treasury bid
)
