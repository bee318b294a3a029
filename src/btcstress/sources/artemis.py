"""Artemis exports: a `date` column and one column per entity (a fund, a company, an asset), in
wide layout. Blank cells mean the entity did not exist or was not reported that day."""

from __future__ import annotations

from typing import Any, Callable

from btcstress.sources.common import Invalid, Parsed, day, number, read_csv


def parse_wide(text: str, origin: str, *, target: str, entity_field: str, value_field: str,
               fixed: dict[str, Any] | None = None, rename: Callable[[str], str] = lambda c: c,
               non_negative: bool = True, positive: bool = False) -> Parsed:
    """One row per (date, entity) with a value; blanks are skipped and counted per entity."""
    out = Parsed(origin=origin)
    header = text.split("\n", 1)[0].strip().split(",")
    entities = [h.strip() for h in header[1:] if h.strip()]
    for line, row, raw in read_csv(text, origin, ("date",)):
        out.lines_in += 1
        try:
            d = day(row, "date")
        except Invalid as exc:
            out.refuse(target, line, exc, raw)
            continue
        for col in entities:
            if row.get(col, "") == "":
                out.skip(f"blank cell ({col})")
                continue
            try:
                v = number(row, col, non_negative=non_negative, positive=positive)
                out.add(target, {"date": d, entity_field: rename(col), value_field: v, **(fixed or {}),
                                 "_line": line})
            except Invalid as exc:
                out.refuse(target, line, exc, raw)
    return out
