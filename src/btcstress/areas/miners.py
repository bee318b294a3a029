"""Miners: hashrate, revenue, costs, margins, their reserves and what they send to exchanges."""

from btcstress.areas import Area

AREA = Area(
    name="miners", title="Miners", prefixes=("miners",),
    metrics="btcstress.metrics.miners", section="btcstress.brief.sections.miners",
    charts=True,
    priced=True,  # revenue and margins at the observed price
    pulls=("mempool",),
    force="Miners",
    pressure=(("miners.outflow_btc_1d", None),  # coins leaving miner wallets
              ("miners.to_exchange_btc_1d", None)),  # ... to exchanges
)
