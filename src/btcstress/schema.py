"""Canonical tables: columns, types, natural keys and publication rules.

Conventions:
- Timestamps are naive UTC (DuckDB TIMESTAMP). Dates are UTC calendar days.
- Every table carries `origin` (importer:file or URL), `available_at` (the instant the row was
  published, so an as-of query sees a row iff available_at <= T) and `ingested_at`.
- `available_at` is computed by the store from the table's publication rule unless the importer
  supplies it (a vintage's publication time, a filing date, a source whose day is published early).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pyarrow as pa

# Publication rules: how `available_at` follows from a row when the importer does not say.
CLOSE = "close"  # a bar is known when it closes: open_time + interval
END_OF_DAY = "end_of_day"  # a daily row is known at the end of its UTC day: date + 1 day
EXPLICIT = "explicit"  # the importer must supply available_at (vintages, filings)

# When a CryptoQuant daily row dated D is public: D+1 00:00 UTC + this. CryptoQuant does not state
# it; this is the latest documented practice of a comparable vendor (docs/DATA.md, "CryptoQuant's
# publication time"). Every CryptoQuant importer stamps its rows with it, and "the end of day D" as
# an instant (`--date D`, the history grid, the sweep) is the same D+1 07:00, the first instant at
# which all of D's daily rows are published (ETF flows, preliminary until 18:00, aside).
CRYPTOQUANT_LAG = dt.timedelta(hours=7)


def day_published(d: dt.date) -> dt.datetime:
    """The instant (naive UTC) at which the daily rows dated d are all published: what `--date d` means."""
    return dt.datetime(d.year, d.month, d.day) + dt.timedelta(days=1) + CRYPTOQUANT_LAG


def last_published_day(t: dt.datetime) -> dt.date:
    """The latest day whose daily rows are all published at instant t (inverse of day_published): the
    day a brief as of t describes."""
    return (t - dt.timedelta(days=1) - CRYPTOQUANT_LAG).date()

META_COLUMNS = ("origin", "available_at", "ingested_at")


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, pa.DataType]  # data columns, keys included; meta columns are added
    key: tuple[str, ...]
    publication: str
    description: str
    date_column: str | None = None  # the column END_OF_DAY counts from
    time_column: str | None = None  # the column CLOSE counts from (with `interval`)
    # Columns that may legitimately be null (everything else is required by validation).
    nullable: frozenset[str] = field(default_factory=frozenset)

    @property
    def value_columns(self) -> list[str]:
        return [c for c in self.columns if c not in self.key]

    def arrow_schema(self, with_meta: bool = True) -> pa.Schema:
        fields = [pa.field(n, t) for n, t in self.columns.items()]
        if with_meta:
            fields += [pa.field("origin", pa.string()), pa.field("available_at", pa.timestamp("us")),
                       pa.field("ingested_at", pa.timestamp("us"))]
        return pa.schema(fields)


TS = pa.timestamp("us")
F64 = pa.float64()
STR = pa.string()
DATE = pa.date32()
I64 = pa.int64()

TABLES: dict[str, Table] = {}


def register(table: Table) -> Table:
    TABLES[table.name] = table
    return table


# --- market (issue 2) -------------------------------------------------------------------------

CANDLES = register(Table(
    name="candles",
    columns={"venue": STR, "symbol": STR, "interval": STR, "open_time": TS, "open": F64, "high": F64,
             "low": F64, "close": F64, "volume": F64, "quote_volume": F64, "trades": I64},
    key=("venue", "symbol", "interval", "open_time"),
    publication=CLOSE, time_column="open_time",
    nullable=frozenset({"quote_volume", "trades", "volume"}),
    description="OHLCV bars. venue 'binance' (spot), 'binance-usdm' (USD-M perpetual), 'composite' "
                "(CryptoQuant all-exchange volume-weighted BTC-USD); interval '1h' or '1d'.",
))

MARKET_CAP_DAILY = register(Table(
    name="market_cap_daily",
    columns={"date": DATE, "scope": STR, "cap_usd": F64},
    key=("date", "scope", "origin"),
    publication=END_OF_DAY, date_column="date",
    description="Market capitalisation at the day's close. scope: 'total' (all crypto, derived), "
                "'total3' (ex BTC and ETH), 'btc', 'btc_implied', 'eth_implied'.",
))

INDICATORS_DAILY = register(Table(
    name="indicators_daily",
    columns={"date": DATE, "name": STR, "value": F64, "label": STR},
    key=("date", "name", "origin"),
    publication=END_OF_DAY, date_column="date",
    nullable=frozenset({"label"}),
    description="Daily scalar indicators: btc_dominance_pct, eth_dominance_pct, fear_greed (label = "
                "classification), etf_aum_to_mcap_<asset>, and others named by their importer.",
))

EVENTS = register(Table(
    name="events",
    columns={"date": DATE, "id": STR, "title": STR, "category": STR, "reference": STR},
    key=("date", "id"),
    publication=EXPLICIT,
    nullable=frozenset({"reference"}),
    description="Named dates a brief may refer to (elections, halvings, ETF launch, crashes). "
                "Shipped as data in the package; a date is known from its own start.",
))

# --- miners (issue 3) -------------------------------------------------------------------------

# Long layout (one metric per row, one origin per row): every value keeps the file it came from, so
# a finding's sources name exactly the files it used. CryptoQuant publishes each metric as its own
# file; a wide [date] row would be assembled from eight files and could carry only one origin.
NETWORK_DAILY = register(Table(
    name="network_daily",
    columns={"date": DATE, "metric": STR, "value": F64},
    key=("date", "metric", "origin"),
    publication=END_OF_DAY, date_column="date",
    description="Daily Bitcoin network statistics, one metric per row: hashrate_hs (H/s), difficulty, "
                "blocks, block_rewards_btc and block_rewards_usd (subsidy + fees), fees_btc, fees_usd, "
                "supply_btc. Subsidy is block_rewards_btc - fees_btc (derived in metrics, not stored).",
))

MINER_FLOWS_DAILY = register(Table(
    name="miner_flows_daily",
    columns={"date": DATE, "metric": STR, "value": F64},
    key=("date", "metric", "origin"),
    publication=END_OF_DAY, date_column="date",
    description="Daily flows of wallets a data vendor labels as miners (all miners), one metric per row: "
                "reserve_btc, reserve_usd, outflow_btc, netflow_btc (may be negative), to_exchange_btc.",
))

# --- etf (issue 4) ----------------------------------------------------------------------------

BOOL = pa.bool_()

ETF_FLOWS = register(Table(
    name="etf_flows",
    columns={"date": DATE, "fund": STR, "vintage": TS, "net_flow_usd": F64},
    key=("date", "fund", "vintage"),
    publication=EXPLICIT,
    nullable=frozenset({"net_flow_usd"}),
    description="Daily net creations/redemptions per US spot BTC ETF (USD; negative = outflow), one row "
                "per (US trading day, fund ticker, vintage). `vintage` is the instant that version of the "
                "table was published (available_at = vintage); every version is kept. A null "
                "net_flow_usd means the fund had launched but had not yet reported in that vintage.",
))

ETF_FLOW_DAYS = register(Table(
    name="etf_flow_days",
    columns={"date": DATE, "vintage": TS, "total_usd": F64, "funds_reported": I64, "missing_funds": STR,
             "preliminary": BOOL},
    key=("date", "vintage"),
    publication=EXPLICIT,
    nullable=frozenset({"total_usd"}),
    description="One row per (day, vintage) of the ETF flow table: the published Total (USD; null when "
                "it failed the check against the sum of funds, see quarantine), how many funds had "
                "reported, which launched funds had not (comma-separated tickers) and whether the day "
                "was therefore preliminary. funds_reported = 0 is a day with no flows (market holiday).",
))

ETF_FLOWS_WEEKLY = register(Table(
    name="etf_flows_weekly",
    columns={"date": DATE, "asset": STR, "net_flow_usd": F64},
    key=("date", "asset", "origin"),
    publication=END_OF_DAY, date_column="date",
    description="Weekly net flows of US spot ETFs by underlying asset (USD), `date` = the Sunday that "
                "ends the week (Artemis' label). asset: btc, eth, xrp, sol.",
))

ETF_AUM = register(Table(
    name="etf_aum",
    columns={"date": DATE, "fund": STR, "aum_usd": F64},
    key=("date", "fund", "origin"),
    publication=END_OF_DAY, date_column="date",
    description="Assets under management per US spot BTC ETF (USD) at the day's close; fund = ticker "
                "(etf_funds.csv). Calendar days: weekend rows carry Artemis' re-valued holdings.",
))

# --- leverage (issue 5) -----------------------------------------------------------------------

# Daily rows from one origin (file) each carry the measures that origin reports; the other value
# columns are null. The CryptoQuant exports are one file per measure, so a day's long and short
# liquidations arrive as two rows (two origins) and metrics combine them per (date, asset). This keeps
# every value traceable to its file; a second origin for the same measure (an API fetch) sits beside it.
LIQUIDATIONS_DAILY = register(Table(
    name="liquidations_daily",
    columns={"date": DATE, "asset": STR, "long_usd": F64, "short_usd": F64, "long_qty": F64, "short_qty": F64},
    key=("date", "asset", "origin"),
    publication=END_OF_DAY, date_column="date",
    nullable=frozenset({"long_usd", "short_usd", "long_qty", "short_qty"}),
    description="Liquidations of leveraged long and short positions per UTC day and underlying asset "
                "(BTC, ETH), in USD and in the asset (qty). CryptoQuant: all exchanges, all symbols.",
))

DERIVATIVES_DAILY = register(Table(
    name="derivatives_daily",
    columns={"date": DATE, "asset": STR, "open_interest_usd": F64, "funding_rate_pct": F64,
             "leverage_ratio": F64},
    key=("date", "asset", "origin"),
    publication=END_OF_DAY, date_column="date",
    nullable=frozenset({"open_interest_usd", "funding_rate_pct", "leverage_ratio"}),
    description="Daily derivatives state per asset: open interest (USD), funding rate (percent per "
                "funding interval, averaged across exchanges), estimated leverage ratio (open interest / "
                "exchange reserve). One measure per origin row, as for liquidations_daily.",
))

LIQUIDATIONS = register(Table(
    name="liquidations",
    columns={"venue": STR, "symbol": STR, "ts": TS, "id": STR, "asset": STR, "side": STR, "price": F64,
             "qty": F64, "usd": F64, "raw_id": STR},
    key=("venue", "symbol", "ts", "id"),
    publication=EXPLICIT,
    nullable=frozenset({"raw_id"}),
    description="Liquidation events from the venues' own streams. side is the side of the LIQUIDATED "
                "POSITION (long|short); qty in the base asset; usd = price x qty (USDT/USDC counted as USD); "
                "id is the venue's id or a deterministic hash when the venue gives none; raw_id the venue's "
                "own id if any. available_at is the venue's push time.",
))

CITATIONS = register(Table(
    name="citations",
    columns={"finding_id": STR, "subject": STR, "as_of": TS, "source": STR, "value": F64, "unit": STR,
             "window": STR, "url": STR, "note": STR},
    key=("finding_id", "subject", "as_of", "source"),
    publication=EXPLICIT,
    nullable=frozenset({"url", "note", "window", "unit"}),
    description="Figures reported by others (an aggregator's all-coin total, a news story's number), "
                "recorded by the user with their source. Shown as kind='cited' findings, never combined "
                "with computed values. available_at = as_of (the instant the figure was published for).",
))


# --- treasuries (issue 6) ---------------------------------------------------------------------

TREASURY_HOLDINGS = register(Table(
    name="treasury_holdings",
    columns={"entity": STR, "as_of": DATE, "btc": F64, "cost_usd": F64, "avg_cost_usd": F64,
             "period_btc": F64, "period_cost_usd": F64, "period_avg_usd": F64,
             "filing_date": DATE, "document": STR, "basis": STR},
    key=("entity", "as_of", "origin"),
    publication=EXPLICIT,
    nullable=frozenset({"cost_usd", "avg_cost_usd", "period_btc", "period_cost_usd", "period_avg_usd",
                        "filing_date", "document"}),
    description="BTC held by a company as of a day (entity = canonical name from "
                "data/treasury_entities.csv). basis: 'filing' (an SEC 8-K: holdings, aggregate and "
                "average cost incl. fees, the period's purchases), 'daily' (a daily holdings series, no "
                "cost), 'snapshot' (an aggregator's snapshot; cost where it gives one). available_at is "
                "set by the importer: a filing from the end of its filing day (UTC), a daily row from "
                "the end of its day, a snapshot from when it was taken.",
))

TREASURY_VALUATION_DAILY = register(Table(
    name="treasury_valuation_daily",
    columns={"date": DATE, "entity": STR, "measure": STR, "value": F64},
    key=("date", "entity", "measure", "origin"),
    publication=END_OF_DAY, date_column="date",
    description="Market valuation multiples of treasury companies. measure 'fd_ev_nav' (fully diluted "
                "enterprise value / net asset value of the BTC held, Artemis), 'realized_mnav' "
                "(DefiLlama). Ratios, not percent.",
))

STOCK_DAILY = register(Table(
    name="stock_daily",
    columns={"date": DATE, "ticker": STR, "open": F64, "high": F64, "low": F64, "close": F64, "volume": F64},
    key=("date", "ticker", "origin"),
    publication=END_OF_DAY, date_column="date",
    nullable=frozenset({"volume"}),
    description="Daily stock bars of treasury companies (USD). Kept apart from `candles` so equity "
                "sessions never mix with BTC markets. A US session closes by 21:00 UTC, so a bar is "
                "known at the end of its UTC day.",
))

# --- live (issue 9) ---------------------------------------------------------------------------

# Where each live connector stopped, so the next run resumes there instead of starting over. One row
# per (source, key): key names the series (e.g. "klines:binance:BTCUSDT:1h"), value is what the
# connector needs to resume (an ISO instant, an accession number, a content hash).
CHECKPOINTS = register(Table(
    name="checkpoints",
    columns={"source": STR, "key": STR, "value": STR, "detail": STR},
    key=("source", "key"),
    publication=EXPLICIT,
    nullable=frozenset({"detail"}),
    description="Resume points of the live connectors (btcstress ingest live, btcstress monitor). "
                "available_at = when the checkpoint was written.",
))

# A websocket is only a record while it is connected: each disconnection is kept so coverage notes can
# say when the stream was blind (liquidation streams cannot be backfilled from the venues).
STREAM_GAPS = register(Table(
    name="stream_gaps",
    columns={"venue": STR, "started": TS, "ended": TS, "reason": STR},
    key=("venue", "started"),
    publication=EXPLICIT,
    nullable=frozenset({"reason"}),
    description="Intervals a live stream was disconnected (from the last message before the drop to the "
                "first after the reconnect). available_at = ended.",
))


# --- data quality (issue 16) ----------------------------------------------------------------

QUALITY = register(Table(
    name="quality",
    columns={"series": STR, "ts": TS, "field": STR, "rule": STR, "value": F64, "compared": STR,
             "reason": STR},
    key=("series", "ts", "field", "rule"),
    publication=EXPLICIT,
    nullable=frozenset({"value", "compared"}),
    description="Stored values that parsed but that their neighbours or another source do not support "
                "(src/btcstress/quality). series names the stored series ('candles:cryptoquant/BTC-USD/1d'), "
                "ts the row's time (a bar's open, a day), field the column ('high', 'low', 'close'), rule "
                "the rule's name, value the flagged value, compared the values it was compared with, "
                "reason in words. available_at = when the last row the rule used was published (a flag is "
                "never known before the data that raise it). Derived: recomputed after every ingest run.",
))


# --- bookkeeping ------------------------------------------------------------------------------

QUARANTINE = register(Table(
    name="quarantine",
    columns={"target": STR, "file": STR, "line": I64, "field": STR, "value": STR, "reason": STR,
             "raw": STR},
    key=("target", "file", "line", "field"),
    publication=EXPLICIT,
    nullable=frozenset({"value", "raw"}),
    description="Rows that failed validation: the table they were meant for, file and line (1-based, "
                "header = line 1), the field, its raw value, the reason and the whole raw row.",
))

# Nothing is overwritten without a trace: every stored value an upsert changes is kept here first.
VALUE_HISTORY = register(Table(
    name="value_history",
    columns={"table_name": STR, "key": STR, "column": STR, "old_value": STR, "new_value": STR,
             "old_origin": STR, "run_id": STR},
    key=("table_name", "key", "column", "run_id", "origin"),
    publication=EXPLICIT,
    nullable=frozenset({"old_value", "new_value", "old_origin"}),
    description="Every value an ingest changed: the table, the row's natural key (JSON), the column, the "
                "old and new values (as text), the origin that had written the old value, the run that "
                "changed it; origin = the file or URL that brought the new value, available_at = when.",
))

INGEST_LOG = register(Table(
    name="ingest_log",
    columns={"run_id": STR, "target": STR, "file": STR, "started_at": TS, "finished_at": TS,
             "rows_in": I64, "rows_new": I64, "rows_updated": I64, "rows_unchanged": I64,
             "rows_quarantined": I64},
    key=("run_id", "target", "file"),
    publication=EXPLICIT,
    description="One row per file per ingest run: what came in and what happened to it.",
))
