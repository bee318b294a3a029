"""The price of bitcoin: last, moves, drawdowns, volatility, the dates it is back below."""

from btcstress.areas import Area, FindingSpec as F

AREA = Area(
    name="price", title="Price", prefixes=("price",),
    metrics="btcstress.metrics.price", section="btcstress.brief.sections.price",
    claim_rules="btcstress.metrics.price_claims",
    charts=True,
    priced=False,  # it is the price
    pulls=("binance",),
    findings=(
        F('price.ath_date', 'date', 'BTC',
          'day of the highest high in the price history'),
        F('price.ath_usd', 'USD', 'BTC',
          'highest high in the price history known by as-of'),
        F('price.below_event', 'events', 'BTC',
          "named events (packaged events table) whose day's close on the composite is above the price"),
        F('price.change_1d_pct', 'pct', 'BTC',
          "day's close / previous day's close - 1"),
        F('price.change_24h_pct', 'pct', 'BTC',
          'last close / close of the bar that closed 24 h earlier - 1'),
        F('price.close_usd', 'USD', 'BTC',
          'daily close (00:00 UTC)'),
        F('price.drawdown_from_ath_pct', 'pct', 'BTC',
          'price / all-time high - 1'),
        F('price.high_24h_usd', 'USD', 'BTC',
          'highest high of the bars that closed in the trailing 24 h'),
        F('price.high_usd', 'USD', 'BTC',
          'daily high'),
        F('price.last_usd', 'USD', 'BTC',
          'close of the last bar closed by as-of on the primary market'),
        F('price.low_24h_usd', 'USD', 'BTC',
          'lowest low of the bars that closed in the trailing 24 h'),
        F('price.low_usd', 'USD', 'BTC',
          'daily low'),
        F('price.lowest_since_date', 'date', 'BTC',
          'the latest day before the trailing-24h window whose daily low was at or below the trailing-24h low'),
        F('price.max_drop_24h_pct', 'pct', 'BTC',
          'largest fall from a running high to a later (or same-bar) low within the trailing 24 h: min over bars of low / max(high so far) - 1'),
    ),
)
