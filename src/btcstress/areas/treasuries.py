"""Corporate treasuries: holdings from filings, their value and P&L at the price, Strategy's mNAV."""

from btcstress.areas import Area, FindingSpec as F

AREA = Area(
    name="treasuries", title="Corporate treasuries", prefixes=("treasury",),
    metrics="btcstress.metrics.treasuries", section="btcstress.brief.sections.treasuries",
    claim_rules="btcstress.metrics.treasuries_claims",
    charts=True,
    priced=True,  # holdings valued at price.last_usd
    pulls=("edgar",),
    force="Corporate treasuries",
    pressure=(("treasury.mnav", "Strategy"),),  # the premium that funds the treasury bid
    findings=(
        F('treasury.avg_cost_usd', 'USD', 'each treasury company (entity name)',
          'average purchase price per BTC as reported (incl'),
        F('treasury.breakeven_price_usd', 'USD', 'each treasury company (entity name)',
          'BTC price at which unrealized P&L is zero = average cost per BTC'),
        F('treasury.cost_usd', 'USD', 'each treasury company (entity name)',
          'aggregate purchase price of the BTC held, as reported'),
        F('treasury.holdings_btc', 'BTC', 'each treasury company (entity name)',
          "BTC held per the entity's latest report published by as-of (filing > snapshot > daily series"),
        F('treasury.mnav', 'ratio', 'each treasury company (entity name)',
          'fully diluted enterprise value / net asset value of the BTC held (Artemis) as published by the source (its share count, debt and cash are not in ...', kind='cited'),
        F('treasury.total_holdings_btc', 'BTC', 'entities with known cost',
          'sum of holdings over the entities whose cost basis is known (those without are listed in detail, not added)'),
        F('treasury.total_unrealized_pnl_usd', 'USD', 'entities with known cost',
          'sum over entities with known cost of holdings x (price - average cost)'),
        F('treasury.unrealized_pnl_pct', 'pct', 'each treasury company (entity name)',
          'unrealized P&L / (holdings x average cost) x 100 = (price / average cost - 1) x 100'),
        F('treasury.unrealized_pnl_usd', 'USD', 'each treasury company (entity name)',
          'holdings x (price - average cost)'),
        F('treasury.value_usd', 'USD', 'each treasury company (entity name)',
          'holdings x price'),
    ),
)
