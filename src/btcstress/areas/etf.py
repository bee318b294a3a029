"""US spot bitcoin ETFs: daily net flows per fund and in total (every vintage), holdings, holders' P&L."""

from btcstress.areas import Area

AREA = Area(
    name="etf", title="ETF flows", prefixes=("etf",),
    metrics="btcstress.metrics.etf", section="btcstress.brief.sections.etf",
    charts=True,
    priced=True,  # holdings and holders' P&L at the observed price
    pulls=("farside",),
    force="ETF flows",
    pressure=(("etf.net_flow_usd", None),),  # net creations minus redemptions
)
