"""The scenario engine's findings: the price ladder and, at a hypothetical price, the cascade, the
hashrate and companies under water. It runs last and reads every other area's findings."""

from btcstress.areas import Area

AREA = Area(
    name="scenario", title="Scenario", prefixes=("scenario",),
    metrics="btcstress.metrics.scenario", section="btcstress.brief.sections.scenario",
    priced=True,
    requires=("price", "market", "miners", "etf", "leverage", "treasuries"),
    monitored=False,  # hypothetical findings: nothing live to watch
)
