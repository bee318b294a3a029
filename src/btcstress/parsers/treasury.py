"""Corporate bitcoin treasuries: SEC 8-K holdings, Artemis daily holdings and EV/NAV, the DefiLlama
institutions snapshot, and treasury companies' daily stock bars.

Entity names are data: every name or ticker a source uses is mapped to one canonical entity name
through the packaged table src/btcstress/data/treasury_entities.csv (entity, ticker, aliases). A
name the table does not know is kept as the source wrote it (never guessed at).

Point in time (see docs/DATA.md, "Treasuries"):
- an 8-K counts from the **end of its filing day (UTC)**. EDGAR gives a filing its date when it is
  accepted between 06:00 and 17:30 ET (later submissions are dated the next business day), i.e.
  between 10:00/11:00 and 21:30/22:30 UTC of that day: the start of the UTC day would always be
  hours too early (look-ahead), the end of the day is always after the filing was public.
- an Artemis daily row counts from the end of its day (its holdings step on the filing day itself).
- the DefiLlama snapshot counts from the instant the caller says it was taken (`published`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from functools import lru_cache
from importlib import resources

from btcstress.parsers import artemis
from btcstress.parsers.common import Invalid, Parsed, check_width, day, number, ohlc, read_csv

TARGET = "treasury_holdings"
ENTITIES_FILE = "data/treasury_entities.csv"

# An 8-K rounds its aggregate cost to $10M ("$54.26 billion") and its average to the dollar, so
# cost and btc x average agree to well under 1%; beyond that one of the three figures is wrong.
COST_TOLERANCE = 0.01
# A "BTC Update" 8-K reports holdings as of a day shortly before it is filed (usually the Sunday
# before a Monday filing). A bigger gap means a mis-parsed date.
MAX_FILING_LAG_DAYS = 14


# -- entity names -------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _entity_table() -> tuple[dict[str, str], dict[str, str]]:
    """(by ticker, by lower-cased name or alias) -> canonical entity name."""
    text = resources.files("btcstress").joinpath(ENTITIES_FILE).read_text(encoding="utf-8")
    by_ticker, by_name = {}, {}
    for row in csv.DictReader(io.StringIO(text)):
        entity = row["entity"].strip()
        by_name[entity.lower()] = entity
        if row.get("ticker"):
            by_ticker[row["ticker"].strip().upper()] = entity
        for alias in (row.get("aliases") or "").split("|"):
            if alias.strip():
                by_name[alias.strip().lower()] = entity
    return by_ticker, by_name


def canonical(name: str | None = None, ticker: str | None = None) -> str:
    """The canonical entity for a source's ticker or name; an unknown name is kept as written."""
    by_ticker, by_name = _entity_table()
    if ticker and ticker.strip().upper() in by_ticker:
        return by_ticker[ticker.strip().upper()]
    if name and name.strip().lower() in by_name:
        return by_name[name.strip().lower()]
    if name and name.strip():
        return name.strip()
    if ticker and ticker.strip():
        return ticker.strip().upper()
    raise ValueError("an entity needs a name or a ticker")


def ticker_of(entity: str) -> str | None:
    by_ticker, _ = _entity_table()
    for t, e in by_ticker.items():
        if e == entity:
            return t
    return None


def _column_entity(column: str) -> str:
    """Artemis names columns '<Company> - <Metric>'."""
    return canonical(name=column.rsplit(" - ", 1)[0])


def _end_of_day(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day) + dt.timedelta(days=1)


# -- SEC 8-K "BTC Update" holdings (Strategy) -----------------------------------------------------

SEC_8K_COLUMNS = ("as_of", "aggregate_btc", "aggregate_cost_usd", "aggregate_avg_price_usd", "period_btc_acquired",
                  "period_cost_usd", "period_avg_price_usd", "sec_8k_filing_date", "sec_8k_file")


def parse_sec_8k(text: str, origin: str, *, entity: str = "Strategy", tolerance: float = COST_TOLERANCE,
                 max_lag_days: int = MAX_FILING_LAG_DAYS) -> Parsed:
    """Holdings, aggregate cost and average cost from 8-K filings; one row per filing.

    Checks: holdings, cost and average > 0; aggregate cost ~= holdings x average (within
    `tolerance`, relative); the same for the period's purchases when given; the as-of day on or
    before the filing day and at most `max_lag_days` before it. A row failing any check goes to
    quarantine with the field and the reason.
    """
    out = Parsed(origin=origin)
    for line, row, raw in read_csv(text, origin, SEC_8K_COLUMNS):
        out.lines_in += 1
        try:
            check_width(row, len(SEC_8K_COLUMNS))
            as_of = day(row, "as_of")
            filed = day(row, "sec_8k_filing_date")
            if filed < as_of:
                raise Invalid("sec_8k_filing_date", row["sec_8k_filing_date"],
                              f"filed before the day it reports on ({as_of})")
            if (filed - as_of).days > max_lag_days:
                raise Invalid("as_of", row["as_of"], f"{(filed - as_of).days} days before the filing "
                              f"(more than {max_lag_days}): a mis-parsed date?")
            btc = number(row, "aggregate_btc", positive=True)
            cost = number(row, "aggregate_cost_usd", positive=True)
            avg = number(row, "aggregate_avg_price_usd", positive=True)
            _consistent("aggregate_cost_usd", cost, btc, avg, tolerance)
            p_btc = number(row, "period_btc_acquired", optional=True, non_negative=True)
            p_cost = number(row, "period_cost_usd", optional=True, non_negative=True)
            p_avg = number(row, "period_avg_price_usd", optional=True, positive=True)
            if p_btc is not None and p_btc > btc:
                raise Invalid("period_btc_acquired", p_btc, f"more than the aggregate holdings {btc:,.0f}")
            if None not in (p_btc, p_cost, p_avg) and p_btc > 0:
                _consistent("period_cost_usd", p_cost, p_btc, p_avg, tolerance)
            document = row["sec_8k_file"] or None
            out.add(TARGET, {"entity": entity, "as_of": as_of, "btc": btc, "cost_usd": cost, "avg_cost_usd": avg,
                             "period_btc": p_btc, "period_cost_usd": p_cost, "period_avg_usd": p_avg,
                             "filing_date": filed, "document": document, "basis": "filing",
                             "available_at": _end_of_day(filed), "_line": line})
        except Invalid as exc:
            out.refuse(TARGET, line, exc, raw)
    return out


def _consistent(field: str, cost: float, btc: float, avg: float, tolerance: float) -> None:
    """cost ~= btc x avg: within `tolerance` (relative), or within the rounding of the stated cost
    (an 8-K writes "$0.3 million" for 3 BTC at $88,210: the exact $264,630 rounds to it, and
    "$54.26 billion" for 713,502 x $76,052 = $54,262.3M): the figure as written is consistent
    when the exact product rounds to it at the precision it was written with."""
    implied = btc * avg
    allowed = max(tolerance * implied, _rounding_unit(cost) / 2)
    if abs(cost - implied) > allowed:
        raise Invalid(field, cost, f"inconsistent with holdings x average = {btc:,.0f} x {avg:,.2f} = "
                                   f"{implied:,.0f} (off by {abs(cost / implied - 1):.1%}, tolerance {tolerance:.0%} "
                                   f"or the stated figure's rounding)")


def _rounding_unit(v: float) -> float:
    """The largest power of ten (up to 1e12) that a whole-number figure is a multiple of: 54.26e9 -> 1e7."""
    if v != int(v) or v == 0:
        return 0.0
    unit, n = 1, int(v)
    while unit < 10**12 and n % (unit * 10) == 0:
        unit *= 10
    return float(unit)


# -- Artemis daily holdings and EV/NAV --------------------------------------------------------------

def parse_artemis_holdings(text: str, origin: str) -> Parsed:
    """`date,<Company> - Number of Tokens Held,...` -> daily holdings rows (basis 'daily', no cost).

    Blank cells are skipped (the company is not covered that day). Zeros before a company's first
    holding are the series' placeholder before it bought anything: skipped and counted. A zero after
    a positive holding, or a negative one, is implausible and quarantined.
    """
    out = Parsed(origin=origin)
    started: set[str] = set()
    for line, d, col, row, raw in artemis.cells(text, out, TARGET):
        try:
            v = number(row, col)
            if v < 0:
                raise Invalid(col, row[col], "negative holdings")
            if v == 0:
                if col in started:
                    raise Invalid(col, row[col], "holdings fell to zero after being positive")
                out.skip(f"zero before the first holding ({col})")
                continue
            started.add(col)
            out.add(TARGET, {"entity": _column_entity(col), "as_of": d, "btc": v, "cost_usd": None,
                             "avg_cost_usd": None, "period_btc": None, "period_cost_usd": None,
                             "period_avg_usd": None, "filing_date": None, "document": None,
                             "basis": "daily", "available_at": artemis.published(d), "_line": line})
        except Invalid as exc:
            out.refuse(TARGET, line, exc, raw)
    return out


def parse_artemis_ev_nav(text: str, origin: str, *, measure: str = "fd_ev_nav") -> Parsed:
    """`date,<Company> - Fully Diluted EV / Nav,...` -> treasury_valuation_daily (ratio).

    Leading zero or negative values (before the company was listed or held BTC, where EV/NAV is
    undefined) are skipped and counted. After the first positive value every value is kept as
    Artemis reports it, negative ones included (an enterprise value below zero); the finding says so.
    """
    target = "treasury_valuation_daily"
    out = Parsed(origin=origin)
    started: set[str] = set()
    for line, d, col, row, raw in artemis.cells(text, out, target):
        try:
            v = number(row, col)
            if v <= 0 and col not in started:
                out.skip(f"no EV/NAV yet: zero or negative before the first positive value ({col})")
                continue
            started.add(col)
            out.add(target, {"date": d, "entity": _column_entity(col), "measure": measure, "value": v,
                             "available_at": artemis.published(d), "_line": line})
        except Invalid as exc:
            out.refuse(target, line, exc, raw)
    return out


# -- DefiLlama institutions snapshot ----------------------------------------------------------------

DEFILLAMA_COLUMNS = ("ticker", "name", "type", "price", "realized_mNAV", "totalUsdValue", "totalCost", "holdings")


def parse_defillama_institutions(text: str, origin: str, *, published: dt.datetime,
                                 valued_on: dt.date | None = None, asset: str = "bitcoin",
                                 tolerance: float = COST_TOLERANCE) -> Parsed:
    """One row per institution holding `asset`: holdings as of its last announcement, cost and
    average where DefiLlama gives them; plus its realized mNAV.

    The file has no date column. `published` is the instant the snapshot is known to have been
    taken by (the caller's evidence, see docs/DATA.md); every row is available from then, and no
    announcement may be later than it. `valued_on` is the market day its prices (and so its
    realized mNAV) belong to (default: the day before `published`). `holdings` is a JSON object {asset: {amount, avgPrice,
    cost, usdValue, lastAnnouncementDate, ...}}; rows without `asset` are skipped and counted.
    """
    out = Parsed(origin=origin)
    if published.tzinfo is not None:
        published = published.astimezone(dt.timezone.utc).replace(tzinfo=None)
    valued_on = valued_on or (published.date() - dt.timedelta(days=1))
    for line, row, raw in read_csv(text, origin, DEFILLAMA_COLUMNS):
        out.lines_in += 1
        try:
            check_width(row, len(text.split("\n", 1)[0].split(",")))
            entity = canonical(name=row["name"], ticker=row["ticker"])
            got = _snapshot_holding(row["holdings"], asset, published, tolerance)
            if got is None:
                out.skip(f"no {asset} holdings (other assets only)")
                continue
            btc, cost, avg, as_of = got
            out.add(TARGET, {"entity": entity, "as_of": as_of, "btc": btc, "cost_usd": cost, "avg_cost_usd": avg,
                             "period_btc": None, "period_cost_usd": None, "period_avg_usd": None,
                             "filing_date": None, "document": None, "basis": "snapshot",
                             "available_at": published, "_line": line})
        except Invalid as exc:
            out.refuse(TARGET, line, exc, raw)
            continue
        try:
            mnav = number(row, "realized_mNAV", optional=True)
            if mnav is not None:
                out.add("treasury_valuation_daily", {"date": valued_on, "entity": entity, "measure": "realized_mnav",
                                                     "value": mnav, "available_at": published, "_line": line})
        except Invalid as exc:
            out.refuse("treasury_valuation_daily", line, exc, raw)
    return out


def _snapshot_holding(cell: str, asset: str, published: dt.datetime, tolerance: float
                      ) -> tuple[float, float | None, float | None, dt.date] | None:
    """(holdings, cost, average cost, last announcement day) of `asset` from a DefiLlama `holdings`
    cell, checked (Invalid names the field); None when the institution holds other assets only."""
    try:
        holdings = json.loads(cell)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise Invalid("holdings", cell[:80], f"not JSON ({getattr(exc, 'msg', 'nested too deeply')})") from None
    if not isinstance(holdings, dict):
        raise Invalid("holdings", cell[:80], "not a JSON object of assets")
    h = holdings.get(asset)
    if h is None:
        return None
    if not isinstance(h, dict):
        raise Invalid(f"holdings.{asset}", h, "not a JSON object")
    btc = _json_number(h, "amount", asset)
    if btc is None:
        raise Invalid(f"holdings.{asset}.amount", None, "missing value")
    if btc <= 0:
        raise Invalid(f"holdings.{asset}.amount", btc, "holdings must be > 0")
    cost = _json_number(h, "cost", asset)
    avg = _json_number(h, "avgPrice", asset)
    if cost is not None and cost <= 0:
        raise Invalid(f"holdings.{asset}.cost", cost, "cost must be > 0 for a positive holding")
    if avg is not None and avg <= 0:
        raise Invalid(f"holdings.{asset}.avgPrice", avg, "average price must be > 0")
    if cost is not None and avg is not None:
        _consistent(f"holdings.{asset}.cost", cost, btc, avg, tolerance)
    last = h.get("lastAnnouncementDate")
    as_of = day({"d": last or ""}, "d", latest=published.date())
    if as_of > published.date():
        raise Invalid(f"holdings.{asset}.lastAnnouncementDate", last, "after the snapshot was taken")
    return btc, cost, avg, as_of


def _json_number(h: dict, key: str, asset: str) -> float | None:
    v = h.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise Invalid(f"holdings.{asset}.{key}", v, "not a finite number")
    return float(v)


# -- stock bars (TradingView layout) ---------------------------------------------------------------

def parse_stock(text: str, origin: str, *, ticker: str) -> Parsed:
    """`date,open,high,low,close,Volume,...` (TradingView export; the open-interest columns are empty
    for a stock) -> stock_daily. Bars are checked like any OHLC bar."""
    out = Parsed(origin=origin)
    fields = ("open", "high", "low", "close")
    for line, row, raw in read_csv(text, origin, ("date",) + fields):
        out.lines_in += 1
        try:
            check_width(row, len(text.split("\n", 1)[0].split(",")))
            o, h, l, c = (number(row, f, positive=True) for f in fields)
            ohlc(o, h, l, c)
            out.add("stock_daily", {"date": day(row, "date"), "ticker": ticker, "open": o, "high": h, "low": l,
                                    "close": c, "volume": number(row, "Volume", non_negative=True, optional=True),
                                    "_line": line})
        except Invalid as exc:
            out.refuse("stock_daily", line, exc, raw)
    return out
