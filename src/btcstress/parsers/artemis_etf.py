"""Artemis' ETF exports, through the generic wide-layout reader (parsers/artemis.py):

- `Bitcoin ETFs AUM.csv`: `date` + one column per fund (USD), calendar days -> etf_aum. Column names
  are mapped to tickers through etf_funds.csv (Artemis' "Bitcoin" is Grayscale's mini trust, BTC);
  a column the fund table does not know keeps its own name, upper-cased.
- `Crypto ETF Flows.csv`: `date` (the Sunday that ends the week) + `<Asset> - ETF Flows` (USD,
  negative = outflow) -> etf_flows_weekly with asset btc/eth/xrp/sol.
"""

from __future__ import annotations

from btcstress.parsers import artemis, etf_funds
from btcstress.parsers.common import Parsed

ASSETS = {"bitcoin": "btc", "ethereum": "eth", "ripple": "xrp", "solana": "sol"}


def fund_ticker(column: str) -> str:
    fund = etf_funds.lookup().get(column.strip().lower())
    return fund.ticker if fund else column.strip().upper()


def asset_code(column: str) -> str:
    name = column.split(" - ")[0].strip().lower()
    return ASSETS.get(name, name)


def parse_aum(text: str, origin: str) -> Parsed:
    return artemis.parse_wide(text, origin, target="etf_aum", entity_field="fund", value_field="aum_usd",
                              rename=fund_ticker, non_negative=True)


def parse_weekly_flows(text: str, origin: str) -> Parsed:
    return artemis.parse_wide(text, origin, target="etf_flows_weekly", entity_field="asset",
                              value_field="net_flow_usd", rename=asset_code, non_negative=False)
