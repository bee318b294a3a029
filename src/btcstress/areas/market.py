"""The whole crypto market: total capitalisation, its change, bitcoin's dominance, sentiment."""

from btcstress.areas import Area, FindingSpec as F

AREA = Area(
    name="market", title="Market", prefixes=("market",),
    metrics="btcstress.metrics.market", section="btcstress.brief.sections.market",
    charts=True,
    pulls=("binance",),
    force="Market-wide selling",
    pressure=(("market.total_cap_change_usd", None),),  # the day's change in total crypto value
    findings=(
        F('market.btc_cap_usd', 'USD', 'BTC',
          "BTC market capitalisation at the day's close (CryptoQuant)"),
        F('market.btc_dominance_pct', 'pct', 'BTC',
          "BTC share of the total crypto market cap at the day's close (TradingView CRYPTOCAP:BTC.D)"),
        F('market.fear_greed', 'index', 'crypto',
          'Alternative.me Crypto Fear & Greed Index (0 extreme fear .. 100 extreme greed), published at 00:00 UTC for the day'),
        F('market.total_cap_change_usd', 'USD', 'crypto',
          "total market cap at the day's close - the previous day's"),
        F('market.total_cap_usd', 'USD', 'crypto',
          "all-crypto market cap at the day's close, derived from TOTAL3 and the BTC and ETH dominance indices"),
    ),
)
