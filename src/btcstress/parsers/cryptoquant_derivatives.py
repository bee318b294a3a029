"""CryptoQuant derivatives exports (`date,<metric>` daily files): long/short liquidations in USD and in
coin, open interest, funding rates, estimated leverage ratio, per underlying asset (BTC, ETH).

Each file carries one measure; it becomes one column of `liquidations_daily` or `derivatives_daily`
for its asset, the other columns null (see schema.py). The parsing and validation is
`cryptoquant.parse_series`; this module adds the asset and the partial-day rule:

The export was pulled during its last day, so that day's row is a partial count (the 2026-04-11 row
of the snapshot shows 0.0 BTC long liquidations). Rows dated on or after the export day are not
observations of a whole day: they are skipped under a stated reason, counted in the ingest summary,
never stored as if complete.
"""

from __future__ import annotations

import datetime as dt

from btcstress.parsers.common import Parsed
from btcstress.parsers.cryptoquant import parse_series

# The day the snapshot's CryptoQuant derivatives files were exported (their last row, partial).
SNAPSHOT_EXPORT_DAY = dt.date(2026, 4, 11)

# measure -> (target table, column, validation)
MEASURES = {
    "long_usd": ("liquidations_daily", "long_usd", {"non_negative": True}),
    "short_usd": ("liquidations_daily", "short_usd", {"non_negative": True}),
    "long_qty": ("liquidations_daily", "long_qty", {"non_negative": True}),
    "short_qty": ("liquidations_daily", "short_qty", {"non_negative": True}),
    "open_interest_usd": ("derivatives_daily", "open_interest_usd", {"positive": True}),
    "funding_rate_pct": ("derivatives_daily", "funding_rate_pct", {}),
    "leverage_ratio": ("derivatives_daily", "leverage_ratio", {"positive": True}),
}


def parse(text: str, origin: str, *, measure: str, asset: str,
          partial_from: dt.date | None = SNAPSHOT_EXPORT_DAY) -> Parsed:
    """One CryptoQuant daily file -> rows of its measure for `asset`.

    `partial_from`: the export day; rows dated on or after it are skipped as partial days.
    """
    target, column, checks = MEASURES[measure]
    out = parse_series(text, origin, target=target, value_field=column, fixed={"asset": asset}, **checks)
    if partial_from is not None and target in out.rows:
        kept = []
        for row in out.rows[target]:
            if row["date"] >= partial_from:
                out.skip(f"partial day: the export was taken during {partial_from}")
            else:
                kept.append(row)
        out.rows[target] = kept
    return out
