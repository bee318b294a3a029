"""CryptoQuant network and miner-flow exports: `date,<metric>` daily files, one metric per file.

Each file becomes rows {date, metric, value} in a long table (network_daily, miner_flows_daily) or
{date, name, value} in indicators_daily. The expected header column is checked, so a file wired to
the wrong metric fails loudly instead of loading a different quantity under the wrong name. A row
dated D is public from D+1 07:00 UTC (schema.day_published, CryptoQuant's conservative time).

Units and their conversions (see docs/DATA.md):
- Hashrate: the export does not state its unit; the values fit GH/s (difficulty x 2^32 / 600 matches
  within a few percent on a 7-day basis, tests/test_miners_import.py pins it), so `scale=1e9` stores H/s.
- USD series are 0 before a USD price existed (2009-2010). Those leading zeros are not observations
  and are skipped (counted) rather than stored as "0 USD"; a zero after the first non-zero value is kept.
"""

from __future__ import annotations

from btcstress.schema import day_published
from btcstress.parsers.common import Invalid, Parsed, check_width, day, number, read_csv


def parse_metric(text: str, origin: str, *, target: str, metric: str, column: str, scale: float = 1.0,
                 sign: str = "non_negative", whole: bool = False, leading_zeros_empty: bool = False,
                 name_field: str = "metric", fixed: dict | None = None) -> Parsed:
    """One `date,<column>` file -> rows {date, <name_field>: metric, value} in `target`.

    sign: 'positive' (> 0), 'non_negative' (>= 0) or 'any' (net flows, oscillators).
    whole: the value must be a whole number (block counts).
    """
    out = Parsed(origin=origin)
    started = not leading_zeros_empty
    for line, row, raw in read_csv(text, origin, ("date", column)):
        out.lines_in += 1
        try:
            check_width(row, 2)
            d = day(row, "date")
            if row.get(column, "") == "":
                out.skip("blank value")
                continue
            v = number(row, column, positive=sign == "positive", non_negative=sign == "non_negative")
            if not started:
                if v == 0:
                    out.skip("zero before the series has a USD value")
                    continue
                started = True
            if whole and v != int(v):
                raise Invalid(column, row[column], "not a whole number")
            out.add(target, {"date": d, name_field: metric, "value": v * scale, **(fixed or {}),
                             "available_at": day_published(d), "_line": line})
        except Invalid as exc:
            out.refuse(target, line, exc, raw)
    return out
