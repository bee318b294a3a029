"""The scenario engine's findings: the price ladder and, at a hypothetical price, the cascade, the
hashrate and companies under water. It runs last: it reads the miners', ETFs' and treasuries' findings."""

from btcstress.areas import Area

AREA = Area(
    name="scenario", title="Scenario", prefixes=("scenario",),
    metrics="btcstress.metrics.scenario", section="btcstress.brief.sections.scenario",
    priced=True,
    requires=("miners", "etf", "treasuries"),  # what engine.py reads from ctx.findings (price: priced)
    monitored=False,  # hypothetical findings: nothing live to watch
)
