"""Artemis exports: a `date` column and one column per entity (a fund, a company, an asset), in
wide layout. Blank cells mean the entity did not exist or was not reported that day."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterator

from btcstress.errors import ParseError
from btcstress.parsers.common import Invalid, Parsed, check_width, day, number, read_csv

# When Artemis' row for day D is counted as public: D+1 18:00 UTC. Artemis does not state when it
# updates; its ETF rows need every issuer's holdings for D (the last, IBIT, appear up to ~18:00 UTC
# on D+1) and its treasury rows step on an 8-K's filing day (public up to 22:30 UTC on D), so the
# end of D would be look-ahead. docs/DATA.md, "Publication times".
PUBLICATION_LAG = dt.timedelta(days=1, hours=18)


def published(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day) + PUBLICATION_LAG


def cells(text: str, out: Parsed, target: str) -> Iterator[tuple[int, dt.date, str, str, str]]:
    """Yield (line, date, column, cell, raw line) for every non-blank cell of a wide file.

    A line whose date or width is bad is quarantined whole; blank cells are skipped and counted
    per column. Each caller validates the cell's value for what its column means.
    """
    header = [h.strip() for h in text.split("\n", 1)[0].strip().split(",")]
    columns = [h for h in header[1:] if h]
    if not columns:
        raise ParseError(f"{out.origin}: line 1: no value columns after `date`")
    for line, row, raw in read_csv(text, out.origin, ("date",)):
        out.lines_in += 1
        try:
            check_width(row, len(header))
            d = day(row, "date")
        except Invalid as exc:
            out.refuse(target, line, exc, raw)
            continue
        for col in columns:
            if row.get(col, "") == "":
                out.skip(f"blank cell ({col})")
                continue
            yield line, d, col, row, raw


def parse_wide(text: str, origin: str, *, target: str, entity_field: str, value_field: str,
               fixed: dict[str, Any] | None = None, rename: Callable[[str], str] = lambda c: c,
               non_negative: bool = True, positive: bool = False) -> Parsed:
    """One row per (date, entity) with a value; blanks are skipped and counted per entity."""
    out = Parsed(origin=origin)
    for line, d, col, row, raw in cells(text, out, target):
        try:
            v = number(row, col, non_negative=non_negative, positive=positive)
            out.add(target, {"date": d, entity_field: rename(col), value_field: v, **(fixed or {}),
                             "available_at": published(d), "_line": line})
        except Invalid as exc:
            out.refuse(target, line, exc, raw)
    return out
