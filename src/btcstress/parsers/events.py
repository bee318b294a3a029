"""The named events shipped with the package (src/btcstress/data/events.csv): dates a brief may
refer to ("erases all gains since the 2024 US election"). Each is known from the start of its day."""

from __future__ import annotations

import datetime as dt
from importlib import resources

from btcstress.parsers.common import Invalid, Parsed, day, read_csv

ORIGIN = "package/btcstress/data/events.csv"


def parse(text: str, origin: str = ORIGIN) -> Parsed:
    out = Parsed(origin=origin)
    for line, row, raw in read_csv(text, origin, ("date", "id", "title", "category")):
        out.lines_in += 1
        try:
            d = day(row, "date")
            if not row["id"] or not row["title"]:
                raise Invalid("id", row["id"], "an event needs an id and a title")
            out.add("events", {"date": d, "id": row["id"], "title": row["title"], "category": row["category"],
                               "reference": row.get("reference") or None,
                               "available_at": dt.datetime(d.year, d.month, d.day), "_line": line})
        except Invalid as exc:
            out.refuse("events", line, exc, raw)
    return out


def packaged() -> Parsed:
    return parse(resources.files("btcstress").joinpath("data/events.csv").read_text(encoding="utf-8"))
