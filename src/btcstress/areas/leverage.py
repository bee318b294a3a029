"""Leverage: liquidations (event level and daily), open interest, funding, leverage ratio."""

from btcstress.areas import Area, FindingSpec as F

AREA = Area(
    name="leverage", title="Leverage", prefixes=("liquidations", "derivatives"),
    metrics="btcstress.metrics.leverage", section="btcstress.brief.sections.leverage",
    claim_rules="btcstress.metrics.leverage_claims",
    charts=True,
    pulls=("binance",),
    streams=("liquidations",),
    force="Leverage",
    pressure=(("liquidations.total_usd", "BTC+ETH"),  # forced selling
              ("derivatives.open_interest_usd", "BTC")),  # deleveraging
    findings=(
        F('derivatives.funding_rate_pct', 'pct', 'BTC, ETH',
          'funding rate for the day (percent per funding interval, averaged across exchanges), as reported'),
        F('derivatives.leverage_ratio', 'ratio', 'BTC, ETH',
          'estimated leverage ratio for the day: open interest / exchange reserve, as reported'),
        F('derivatives.open_interest_change_pct', 'pct', 'BTC, ETH',
          '100 x (open interest on the last day / on the day before - 1)'),
        F('derivatives.open_interest_usd', 'USD', 'BTC, ETH',
          'open interest in USD for the day, as reported'),
        F('liquidations.count', 'events', 'BTC, ETH, BTC+ETH',
          'number of liquidation events in the trailing 24 h (event-level feeds) or on the day'),
        F('liquidations.largest_usd', 'USD', 'BTC, ETH, BTC+ETH',
          'the largest single liquidation (USD) in the window'),
        F('liquidations.long_share_pct', 'pct', 'BTC, ETH, BTC+ETH',
          '100 x long_usd / total_usd'),
        F('liquidations.long_usd', 'USD', 'BTC, ETH, BTC+ETH',
          'long positions liquidated on the last complete day (USD)'),
        F('liquidations.short_usd', 'USD', 'BTC, ETH, BTC+ETH',
          'short positions liquidated on the last complete day (USD)'),
        F('liquidations.total_usd', 'USD', 'BTC, ETH, BTC+ETH',
          'long + short positions liquidated on the last complete day (USD)'),
        F('liquidations.zscore_1y', 'z', 'BTC, ETH, BTC+ETH',
          "(the day's total liquidations - mean) / sample std of daily totals over the trailing year"),
    ),
)
