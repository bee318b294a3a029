"""Cited observations: figures reported by someone else (an aggregator's all-coin 24 h liquidations, a
news story's "largest single liquidation"), recorded by the user with their source.

They enter the store only through `btcstress cite add` or `btcstress cite import FILE.csv` and become
findings with kind "cited": shown next to computed values, never summed with them. The package ships
no cited values.

CSV columns (header required; url, unit, window, note optional):
    finding,subject,value,unit,as_of,window,source,url,note
    liquidations.total_usd,crypto,2.65e9,USD,2026-02-06T08:00Z,24h,CoinGlass (via news story),https://...,all coins
"""

from __future__ import annotations

import re

from btcstress.errors import InputError
from btcstress.parsers.common import Invalid, Parsed, number, parse_table

TARGET = "citations"
COLUMNS = ("finding", "subject", "value", "unit", "as_of", "window", "source", "url", "note")
REQUIRED = ("finding", "subject", "value", "as_of", "source")
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def row(fields: dict[str, str | None]) -> dict:
    """One citation from its fields, validated; raises Invalid naming the field."""
    from btcstress.config import parse_instant
    f = {k: (str(v).strip() if v is not None else "") for k, v in fields.items()}
    if not _ID.match(f.get("finding", "")):
        raise Invalid("finding", f.get("finding"), "not a finding id (dotted, lower case, e.g. liquidations.total_usd)")
    for name in ("subject", "source"):
        if not f.get(name):
            raise Invalid(name, f.get(name), "missing value")
    value = number(f, "value")
    try:
        as_of = parse_instant(f.get("as_of", ""))
    except InputError:
        raise Invalid("as_of", f.get("as_of"), "not a timestamp (e.g. 2026-02-06T08:00Z)") from None
    url = f.get("url") or None
    if url and not re.match(r"^https?://\S+$", url):
        raise Invalid("url", url, "not an http(s) URL")
    as_of = as_of.replace(tzinfo=None)
    return {"finding_id": f["finding"], "subject": f["subject"], "as_of": as_of, "source": f["source"],
            "value": value, "unit": f.get("unit") or None, "window": f.get("window") or None, "url": url,
            "note": f.get("note") or None, "available_at": as_of}


def parse(text: str, origin: str) -> Parsed:
    return parse_table(text, origin, REQUIRED, TARGET, row)


def single(fields: dict[str, str | None], origin: str = "cite:cli") -> Parsed:
    """One citation typed on the command line; bad input raises InputError (nothing is stored)."""
    out = Parsed(origin=origin)
    out.lines_in = 1
    try:
        out.add(TARGET, row(fields))
    except Invalid as exc:
        raise InputError(f"--{exc.field.replace('_', '-')} {exc.value!r}: {exc.reason}") from None
    return out
