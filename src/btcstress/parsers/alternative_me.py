"""Alternative.me Crypto Fear & Greed Index: `date,fng_value,fng_classification`.

The index for day D is published at 00:00 UTC of D (alternative.me updates it once a day at
midnight UTC), so unlike most daily rows it is known from the start of its day."""

from __future__ import annotations

import datetime as dt

from btcstress.parsers.common import Invalid, Parsed, check_width, day, integer, read_csv

CLASSES = {"Extreme Fear", "Fear", "Neutral", "Greed", "Extreme Greed"}


def parse(text: str, origin: str) -> Parsed:
    out = Parsed(origin=origin)
    for line, row, raw in read_csv(text, origin, ("date", "fng_value", "fng_classification")):
        out.lines_in += 1
        try:
            check_width(row, 3)
            d = day(row, "date")
            v = integer(row, "fng_value")
            if not 0 <= v <= 100:
                raise Invalid("fng_value", v, "outside [0, 100]")
            label = row["fng_classification"]
            if label not in CLASSES:
                raise Invalid("fng_classification", label, f"not one of {sorted(CLASSES)}")
            out.add("indicators_daily", {"date": d, "name": "fear_greed", "value": float(v), "label": label,
                                         "available_at": dt.datetime(d.year, d.month, d.day), "_line": line})
        except Invalid as exc:
            out.refuse("indicators_daily", line, exc, raw)
    return out
