"""Physical bounds per series: the last gate before a parsed row may be stored.

A parser checks what a value must be in its own format (a number, > 0, high >= low). This module
checks what it can be in the world: a BTC price of 1e308 or 1e-300, a hashrate beyond any machine,
a liquidation worth more than all of crypto, a bar dated 2100 or tomorrow-plus-a-week, a
100,000-character symbol. `Parsed.add` calls `check` for every row of every importer (files, live
pulls, streams), so nothing out of bounds reaches the store: the row goes to quarantine instead.

The bounds are wide on purpose (hundreds to thousands of times today's values): they catch unit
errors, garbage and overflow, not unusual days; those are the `quality` layer's business. The table
is documented in docs/DATA.md ("Physical bounds"); a test keeps the two in step.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from btcstress.parsers.common import EARLIEST_DATE, Invalid

INF = math.inf
BTC_SUPPLY = 21e6
# (lo, hi), both inclusive; a value must also be finite.
PRICE_BTC = (1e-4, 1e8)  # USD per BTC: the first CryptoQuant price (2010) was ~0.05, today ~1e5
PRICE_ANY = (1e-12, 1e8)  # USD per coin of any listed asset (memecoins trade at 1e-8)
USD_DAY = (0.0, 1e12)  # USD a day: liquidations, fees, rewards (record days are ~1e10)
USD_STOCK = (0.0, 1e13)  # USD stock: open interest, AUM, a reserve
FLOW = (-1e12, 1e12)  # signed USD flows
BTC_QTY = (0.0, BTC_SUPPLY)

# (table, column) -> bounds for wide tables.
COLUMNS: dict[tuple[str, str], tuple[float, float]] = {
    **{("candles", c): PRICE_BTC for c in ("open", "high", "low", "close")},
    ("candles", "volume"): (0.0, 1e12), ("candles", "quote_volume"): (0.0, 1e15), ("candles", "trades"): (0, 1e10),
    ("market_cap_daily", "cap_usd"): (0.0, 1e16),
    ("etf_flows", "net_flow_usd"): (-1e11, 1e11), ("etf_flow_days", "total_usd"): FLOW,
    ("etf_flow_days", "funds_reported"): (0, 1000), ("etf_flows_weekly", "net_flow_usd"): FLOW,
    ("etf_aum", "aum_usd"): USD_STOCK,
    **{("liquidations_daily", c): USD_DAY for c in ("long_usd", "short_usd")},
    **{("liquidations_daily", c): (0.0, 1e9) for c in ("long_qty", "short_qty")},
    ("derivatives_daily", "open_interest_usd"): USD_STOCK, ("derivatives_daily", "funding_rate_pct"): (-100.0, 100.0),
    ("derivatives_daily", "leverage_ratio"): (0.0, 1000.0),
    ("liquidations", "price"): PRICE_ANY, ("liquidations", "qty"): (0.0, 1e15), ("liquidations", "usd"): (0.0, 1e11),
    ("treasury_holdings", "btc"): BTC_QTY, ("treasury_holdings", "cost_usd"): USD_STOCK,
    ("treasury_holdings", "avg_cost_usd"): PRICE_BTC, ("treasury_holdings", "period_btc"): (-BTC_SUPPLY, BTC_SUPPLY),
    ("treasury_holdings", "period_cost_usd"): (-1e13, 1e13), ("treasury_holdings", "period_avg_usd"): PRICE_BTC,
    ("treasury_valuation_daily", "value"): (-1e6, 1e6),
    **{("stock_daily", c): (0.0, 1e7) for c in ("open", "high", "low", "close")},
    ("stock_daily", "volume"): (0.0, 1e13),
    ("citations", "value"): (-1e16, 1e16),
}

# Long tables: the bound depends on the metric named in the row.
METRICS: dict[str, tuple[float, float]] = {
    "hashrate_hs": (0.0, 1e24),  # H/s; ~1e21 in 2026
    "difficulty": (0.0, 1e18),  # ~1.4e14 in 2026
    "blocks": (0.0, 1000.0),  # ~144 a day
    "block_rewards_btc": (0.0, 1e5), "fees_btc": (0.0, 1e5), "subsidy_btc": (0.0, 1e5),
    "block_rewards_usd": USD_DAY, "fees_usd": USD_DAY,
    "supply_btc": BTC_QTY, "reserve_btc": BTC_QTY, "outflow_btc": BTC_QTY, "to_exchange_btc": BTC_QTY,
    "netflow_btc": (-BTC_SUPPLY, BTC_SUPPLY), "reserve_usd": (0.0, 1e15),
    "fear_greed": (0.0, 100.0), "btc_dominance_pct": (0.0, 100.0), "eth_dominance_pct": (0.0, 100.0),
    "miners_position_index": (-1e3, 1e3), "puell_multiple": (0.0, 1e3),
}
LONG = {"network_daily": "metric", "miner_flows_daily": "metric", "indicators_daily": "name"}
ANY_NUMBER = (-1e18, 1e18)  # any other number: finite and not absurd

# Strings: a symbol is short; a key names a thing; free text (a title, a document URL) is bounded.
SYMBOL_MAX = 40
KEY_MAX = 200
TEXT_MAX = 4000

# Dates: not before Bitcoin, not after the ingest time plus a day. Stock bars and events may be older
# (a company listed before 2009).
EARLIEST = {"stock_daily": dt.date(1970, 1, 1), "events": dt.date(1970, 1, 1), "citations": dt.date(1970, 1, 1)}
# A bar cannot open after the ingest (five minutes for clocks that disagree); an event may be scheduled.
FUTURE = {"events": dt.timedelta(days=366 * 10), "candles": dt.timedelta(minutes=5)}
NOT_DATA = {"available_at", "ingested_at", "_line", "origin"}


def bound(table: str, column: str, row: dict[str, Any]) -> tuple[float, float]:
    if table in LONG and column == "value":
        return METRICS.get(str(row.get(LONG[table])), ANY_NUMBER)
    if table == "indicators_daily" and str(row.get("name", "")).startswith("etf_aum_to_mcap_"):
        return (0.0, 100.0)
    return COLUMNS.get((table, column), ANY_NUMBER)


def check(table: str, row: dict[str, Any], *, now: dt.datetime | None = None) -> None:
    """Raise Invalid for the first value of `row` outside its series' bounds."""
    from btcstress.schema import TABLES
    t = TABLES.get(table)
    key = set(t.key) if t else set()
    latest = (now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)) + FUTURE.get(table, dt.timedelta(days=1))
    earliest = EARLIEST.get(table, EARLIEST_DATE)
    for col, v in row.items():
        if v is None or col in NOT_DATA:
            continue
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            lo, hi = bound(table, col, row)
            if not (math.isfinite(v) and lo <= v <= hi):
                raise Invalid(col, v, f"outside the physical bounds of {table}.{col} [{lo:g}, {hi:g}] (docs/DATA.md)")
        elif isinstance(v, dt.datetime):
            if not dt.datetime.combine(earliest, dt.time()) <= v.replace(tzinfo=None) <= latest:
                raise Invalid(col, v.isoformat(), f"instant out of range [{earliest}, ingest time + 1 day]")
        elif isinstance(v, dt.date):
            if not earliest <= v <= latest.date():
                raise Invalid(col, v.isoformat(), f"date out of range [{earliest}, {latest.date()}]")
        elif isinstance(v, str):
            limit = SYMBOL_MAX if col == "symbol" else KEY_MAX if col in key else TEXT_MAX
            if len(v) > limit:
                raise Invalid(col, v[:40] + "...", f"{len(v)} characters; {table}.{col} allows at most {limit}")
