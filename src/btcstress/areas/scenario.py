"""The scenario engine's findings: the price ladder and, at a hypothetical price, the cascade, the
hashrate and companies under water. It runs last: it reads the miners', ETFs' and treasuries' findings."""

from btcstress.areas import Area, FindingSpec as F

AREA = Area(
    name="scenario", title="Scenario", prefixes=("scenario",),
    metrics="btcstress.metrics.scenario", section="btcstress.brief.sections.scenario",
    priced=True,
    requires=("miners", "etf", "treasuries"),  # what metrics/scenario.py reads from ctx.findings (price: priced)
    monitored=False,  # hypothetical findings: nothing live to watch
    findings=(
        F('scenario.cascade_extra_move_pct', 'pct', 'BTC',
          'cascade price / scenario price - 1, in percent', kind='modelled'),
        F('scenario.cascade_price_usd', 'USD', 'BTC',
          'fixed point of p = P x (1 - liquidations(p) / depth / 100) from the scenario price P: liquidated longs are market-sold and every depth_usd_per_pct ...', kind='modelled'),
        F('scenario.entities_underwater', 'entities', 'BTC',
          'treasury companies with a published average cost above the scenario price (holdings x (price - average cost) each, deepest loss first)', kind='modelled'),
        F('scenario.hashrate_underwater_pct', 'pct', 'BTC',
          'share of the running hashrate whose all-in cost per BTC (electricity + non-energy opex + depreciation of the running machines) is above the ...', kind='modelled'),
        F('scenario.ladder', 'table', 'BTC',
          "the scenario findings (liquidations, cascade, hashrate under water, treasuries under water, ETF holders' P&L) at each shock from price.last_usd", kind='modelled'),
        F('scenario.liquidations_usd', 'USD', 'BTC',
          'long open interest (x at_risk_share_of_oi) spread over a seeded simulation of positions opened in the trailing daily bars (volume-weighted, ...', kind='modelled'),
    ),
)
