"""The snapshot folder (../shared/data): which importer reads which file.

Each entry maps a path relative to the snapshot folder to a parser `(text, origin) -> Parsed`.
Files the registry does not know are reported, never guessed at.
"""

from __future__ import annotations

import datetime as _dt
from functools import partial
from pathlib import Path
from typing import Callable

from btcstress.parsers import alternative_me, artemis, binance_klines, cryptoquant, derived_marketcap, tradingview
from btcstress.parsers import cq_network  # miners (issue 3)
from btcstress.parsers import artemis_etf, farside  # etf (issue 4)
from btcstress.parsers import cryptoquant_derivatives  # leverage (issue 5)
from btcstress.parsers import treasury  # treasuries (issue 6)
from btcstress.parsers import published_costs  # miners' published cost estimates (issue 20)
from btcstress.parsers.common import Parsed

Parser = Callable[[str, str], Parsed]

# Not data: documentation and the claims to verify (read by `btcstress check`).
IGNORED = ("SOURCES.md", "claims/")

IMPORTERS: dict[str, Parser] = {
    # --- price and market (issue 2) ---
    "price/binance_spot_btcusdt_1h_2026-01_2026-02.csv":
        partial(binance_klines.parse, venue="binance", symbol="BTCUSDT"),
    "price/binance_futures_um_btcusdt_1h_2024-06_2026-05.csv":
        partial(binance_klines.parse, venue="binance-usdm", symbol="BTCUSDT"),
    "price/cryptoquant_btc_usd_ohlcv_daily.csv": cryptoquant.parse_ohlcv,
    "marketcap/cryptoquant_btc_market_cap_daily.csv":
        partial(cryptoquant.parse_series, target="market_cap_daily", value_field="cap_usd",
                fixed={"scope": "btc"}, positive=True, zero_is_empty=True),
    "marketcap/derived_total_crypto_market_cap_daily.csv": derived_marketcap.parse,
    "marketcap/tradingview_cryptocap_total3_daily.csv":
        partial(tradingview.parse_close, target="market_cap_daily", value_field="cap_usd",
                fixed={"scope": "total3"}),
    "marketcap/tradingview_cryptocap_btc_dominance_daily.csv":
        partial(tradingview.parse_close, target="indicators_daily", value_field="value",
                fixed={"name": "btc_dominance_pct", "label": None}, bounds=(0, 100)),
    "marketcap/tradingview_cryptocap_eth_dominance_daily.csv":
        partial(tradingview.parse_close, target="indicators_daily", value_field="value",
                fixed={"name": "eth_dominance_pct", "label": None}, bounds=(0, 100)),
    "marketcap/alternativeme_fear_greed_index_daily.csv": alternative_me.parse,
    "marketcap/artemis_crypto_etf_aum_to_market_cap_daily.csv":
        partial(artemis.parse_wide, target="indicators_daily", entity_field="name", value_field="value",
                fixed={"label": None}, rename=lambda c: f"etf_aum_to_mcap_{c.lower()}"),

    # --- miners (issue 3) ---
    # CryptoQuant network statistics -> network_daily (long: date, metric, origin). Hashrate is GH/s in
    # the file and stored as H/s (scale 1e9; verified against difficulty in tests).
    **{f"network/cryptoquant_btc_{f}_daily.csv":
       partial(cq_network.parse_metric, target="network_daily", metric=m, column=c, **kw)
       for f, m, c, kw in (
           ("hashrate", "hashrate_hs", "Hashrate", {"scale": 1e9, "sign": "positive"}),
           ("difficulty", "difficulty", "Difficulty", {"sign": "positive"}),
           ("blocks_mined", "blocks", "Blocks Mined", {"whole": True}),
           ("block_rewards_btc", "block_rewards_btc", "Block Rewards", {}),
           ("block_rewards_usd", "block_rewards_usd", "Block Rewards USD", {"leading_zeros_empty": True}),
           ("fees_total_btc", "fees_btc", "Fees (Total)", {}),
           ("fees_total_usd", "fees_usd", "Fees USD (Total)", {"leading_zeros_empty": True}),
           ("total_supply", "supply_btc", "Total Supply", {"sign": "positive"}),
       )},
    # CryptoQuant miner flows (all miners, entity-labelled) -> miner_flows_daily.
    **{f"network/cryptoquant_btc_{f}_daily.csv":
       partial(cq_network.parse_metric, target="miner_flows_daily", metric=m, column=c, **kw)
       for f, m, c, kw in (
           ("miner_reserve", "reserve_btc", "Miner Reserve", {}),
           ("miner_reserve_usd", "reserve_usd", "Miner Reserve USD", {"leading_zeros_empty": True}),
           ("miner_outflow_total", "outflow_btc", "Miner Outflow (Total)", {}),
           ("miner_netflow_total", "netflow_btc", "Miner Netflow Total", {"sign": "any"}),
           ("miner_to_exchange_flow", "to_exchange_btc", "Miner to Exchange Flow (Total)", {}),
       )},
    # CryptoQuant miner indicators -> indicators_daily (name = indicator).
    "network/cryptoquant_btc_miners_position_index_daily.csv":
        partial(cq_network.parse_metric, target="indicators_daily", metric="miners_position_index",
                column="Miners' Position Index (MPI)", sign="any", name_field="name", fixed={"label": None}),
    # Published production-cost estimates -> citations (kind="cited" findings; issue 20).
    "miners/published_production_cost_estimates.csv": published_costs.parse,
    "network/cryptoquant_btc_puell_multiple_daily.csv":
        partial(cq_network.parse_metric, target="indicators_daily", metric="puell_multiple",
                column="Puell Multiple", name_field="name", fixed={"label": None}),

    # --- etf (issue 4) ---
    # The final Farside table: each day's vintage is the publication rule (date + 1 day, 00:00 UTC).
    "etf/farside_btc_etf_flows_daily.csv": farside.parse,
    "etf/artemis_crypto_etf_flows_weekly.csv": artemis_etf.parse_weekly_flows,
    "etf/artemis_bitcoin_etfs_aum_daily.csv": artemis_etf.parse_aum,
    # etf/defillama_etf_flow_history_daily.csv is deliberately not imported: a lossy export (one
    # asset per date, see SOURCES.md); BTC daily flows come from Farside. Listed as "no importer".

    # --- leverage (issue 5) ---
    "liquidations/cryptoquant_btc_long_liquidations_usd_daily.csv":
        partial(cryptoquant_derivatives.parse, measure="long_usd", asset="BTC"),
    "liquidations/cryptoquant_btc_short_liquidations_usd_daily.csv":
        partial(cryptoquant_derivatives.parse, measure="short_usd", asset="BTC"),
    "liquidations/cryptoquant_btc_long_liquidations_btc_daily.csv":
        partial(cryptoquant_derivatives.parse, measure="long_qty", asset="BTC"),
    "liquidations/cryptoquant_btc_short_liquidations_btc_daily.csv":
        partial(cryptoquant_derivatives.parse, measure="short_qty", asset="BTC"),
    "liquidations/cryptoquant_eth_long_liquidations_usd_daily.csv":
        partial(cryptoquant_derivatives.parse, measure="long_usd", asset="ETH"),
    "liquidations/cryptoquant_eth_short_liquidations_usd_daily.csv":
        partial(cryptoquant_derivatives.parse, measure="short_usd", asset="ETH"),
    "liquidations/cryptoquant_btc_open_interest_usd_daily.csv":
        partial(cryptoquant_derivatives.parse, measure="open_interest_usd", asset="BTC"),
    "liquidations/cryptoquant_btc_funding_rates_daily.csv":
        partial(cryptoquant_derivatives.parse, measure="funding_rate_pct", asset="BTC"),
    "liquidations/cryptoquant_btc_estimated_leverage_ratio_daily.csv":
        partial(cryptoquant_derivatives.parse, measure="leverage_ratio", asset="BTC"),

    # --- treasuries (issue 6) ---
    "treasury/mstr_btc_holdings_from_sec_8k.csv": partial(treasury.parse_sec_8k, entity="Strategy"),
    "treasury/artemis_btc_treasury_holdings_daily.csv": treasury.parse_artemis_holdings,
    "treasury/artemis_btc_treasury_fd_ev_nav_daily.csv": treasury.parse_artemis_ev_nav,
    # No date column: its prices are the 2026-04-13 US closes (MSTR 132.36, +2.89% on 04-10's 128.64)
    # and its BTC value per coin (74,065) is where BTC traded 2026-04-13 22:00 .. 04-14 01:00 UTC, so
    # it was taken before the 04-14 session; counted from the end of 2026-04-14 UTC to be safe.
    "treasury/defillama_dat_institutions_snapshot_2026-04.csv":
        partial(treasury.parse_defillama_institutions, published=_dt.datetime(2026, 4, 15),
                valued_on=_dt.date(2026, 4, 13)),
    "treasury/tradingview_mstr_stock_daily.csv": partial(treasury.parse_stock, ticker="MSTR"),
}


def plan(folder: Path) -> tuple[list[tuple[Path, str, Parser]], list[str]]:
    """The files to import, as (path, origin, parser), and the data files nobody imports."""
    folder = Path(folder)
    todo, unknown = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel in IMPORTERS:
            todo.append((path, f"snapshot/{rel}", IMPORTERS[rel]))
        elif not any(rel == i or rel.startswith(i) for i in IGNORED):
            unknown.append(rel)
    return todo, unknown
