"""US spot bitcoin ETFs: daily net flows per fund and in total (every vintage), holdings, holders' P&L."""

from btcstress.areas import Area, FindingSpec as F

AREA = Area(
    name="etf", title="ETF flows", prefixes=("etf",),
    metrics="btcstress.metrics.etf", section="btcstress.brief.sections.etf",
    claim_rules="btcstress.metrics.etf_claims",
    charts=True,
    priced=True,  # holdings and holders' P&L at the observed price
    pulls=("farside",),
    force="ETF flows",
    pressure=(("etf.net_flow_usd", None),),  # net creations minus redemptions
    findings=(
        F('etf.aum_usd', 'USD', 'US spot BTC ETFs',
          'Sum over funds of the assets under management on the latest day published by T.'),
        F('etf.cumulative_usd', 'USD', 'US spot BTC ETFs',
          "Sum of the daily net flows of every US trading day since launch (2024-01-11), each day from its latest vintage published by T. GBTC's assets from ..."),
        F('etf.flow_usd', 'USD', 'each fund (ticker)',
          "The fund's net flow (USD) on the latest US trading day published by T, from that day's latest vintage."),
        F('etf.holders_cost_basis_usd', 'USD', 'US spot BTC ETFs',
          "Flow-weighted average price: each trading day's net flow (USD, latest vintage by T) is converted to BTC at that UTC day's close of the price ...", kind='computed/modelled'),
        F('etf.holders_pnl_pct', 'pct', 'US spot BTC ETFs',
          "(price / holders' cost basis - 1) x 100, the price being price.last_usd (or the user's hypothetical price)", kind='computed/modelled'),
        F('etf.net_flow_usd', 'USD', 'US spot BTC ETFs',
          "Sum of the per-fund net flows (creations minus redemptions, USD) of the latest US trading day published by T, read from that day's latest vintage ..."),
        F('etf.outflow_streak_days', 'days', 'US spot BTC ETFs',
          'Consecutive US trading days, ending with the latest published by T, whose net flow (latest vintage by T) was negative'),
        F('etf.outflow_streak_usd', 'USD', 'US spot BTC ETFs',
          'Sum of the daily net flows over the current outflow streak'),
        F('etf.week_to_date_usd', 'USD', 'US spot BTC ETFs',
          "Sum of the daily net flows (each day's latest vintage by T) from Monday of the latest trading day's week through that day."),
    ),
)
