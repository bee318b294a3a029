"""Findings computed from a flagged value say so (docs/DATA.md, "Data quality", "What findings do").

The price area handles its own flags (metrics/price_bars.py: a clean source where there is one).
For every other series this pass, run once by `metrics.compute` after the areas, marks a finding
whose *value* was computed from a value flagged by a rule known at the finding's as-of: one of its
sources (same table and one of its origins) ends on the flagged day, or spans at most SHORT_SPAN days that
include it (a week-to-date sum, a 30-day change). A flagged day deep inside a long base (a year of
history behind a z-score) does not mark the finding: it is one value among hundreds there.

A marked finding keeps its value and gets `note` += the flag and `detail['suspect']`, which keeps
it out of the headline, the highlights and "Why it fell" (brief/, lint rule `suspect_value`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from btcstress.findings import Finding

SHORT_SPAN = dt.timedelta(days=31)
# Tables whose flags name a subject (fund, entity, asset, ticker) and where a finding about another
# subject of the same table did not read the flagged value.
_SUBJECT_COLUMN = {"etf_flows": "fund", "etf_aum": "fund", "treasury_holdings": "entity",
                   "liquidations_daily": "asset", "derivatives_daily": "asset", "stock_daily": "ticker"}


def _split(series: str) -> tuple[str, str | None]:
    """'etf_aum:IBIT/aum_usd' -> ('etf_aum', 'IBIT'); 'network_daily:hashrate_hs' -> (..., None)."""
    table, _, rest = series.partition(":")
    return table, (rest.split("/", 1)[0] if "/" in rest else None)


def flags_known(ctx) -> pd.DataFrame:
    """The non-price flags known at the context's as-of."""
    q = ctx.table("quality")
    return q.filter(~q.series.startswith("candles:")).execute()


def mark(ctx, findings: list[Finding]) -> int:
    """Mark the findings computed from a flagged value; returns how many were marked."""
    flags = flags_known(ctx)
    if flags.empty:
        return 0
    flags = flags.assign(ts=pd.to_datetime(flags.ts))
    parts = flags.series.map(_split)
    flags = flags.assign(table=[p[0] for p in parts], subject=[p[1] for p in parts])
    # The flags by (table, origin), each in the table's order: a few dozen rows, read per source in
    # plain Python (a pandas filter per finding's source cost ~0.1 s per computation).
    by_source: dict[tuple, list] = {}
    for r in flags.itertuples():
        if not pd.isna(r.origin):
            by_source.setdefault((r.table, r.origin), []).append(r)
    subjects: dict[str, set[str]] = {}
    marked = 0
    for f in findings:
        if f.value is None or (isinstance(f.detail, dict) and f.detail.get("suspect")):
            continue
        hits = []
        for s in f.sources:
            found = [r for o in s.origin.split(", ") for r in by_source.get((s.table, o), ())]
            if not found or s.last is None:
                continue
            first, last = _naive(s.first or s.last), _naive(s.last)
            inside = [r for r in found if first <= r.ts <= last]
            if last - first > SHORT_SPAN:
                inside = [r for r in inside if r.ts == last]
            for r in inside:
                if r.subject not in (None, "all") and r.subject != f.subject:
                    if s.table not in subjects:
                        subjects[s.table] = _subjects(ctx, s.table)
                    if f.subject in subjects[s.table]:
                        continue  # a finding about another fund / company / asset
                hits.append(r)
        if hits:
            text = "; ".join(dict.fromkeys(
                f"suspect {r.series.split(':', 1)[1]} on {r.ts:%Y-%m-%d} ({r.rule}: {r.reason})" for r in hits))
            text += " (`btcstress quality`)"
            f.note = f"{f.note}; {text}" if f.note else text
            f.detail = {**(f.detail or {}), "suspect": text}
            marked += 1
    return marked


def _subjects(ctx, table: str) -> set[str]:
    """The table's subjects known at the as-of, as an Ibis query (raw SQL on the DuckDB connection
    failed on a Spark store, which has none)."""
    col = _SUBJECT_COLUMN.get(table)
    if col is None:
        return set()
    t = ctx.table(table)
    return set(t.select(col).distinct().execute()[col].dropna())


def _naive(t: dt.datetime) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_convert(None) if t.tzinfo is not None else t
