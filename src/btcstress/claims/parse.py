"""Claims in: the CSV (or API body) a story's figures come as, parsed and checked field by field."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from btcstress.errors import InputError

COLUMNS = ("claim_id", "finding_id", "subject", "comparator", "value", "unit", "as_of", "window", "quote")
COMPARATORS = ("approx", "gt", "lt", "eq")


class Claim(BaseModel):
    claim_id: str
    finding_id: str
    subject: str
    comparator: Literal["approx", "gt", "lt", "eq"]
    value: float | str
    unit: str
    as_of: dt.date | dt.datetime
    window: str
    quote: str = ""

    @property
    def day(self) -> dt.date:
        return self.as_of.date() if isinstance(self.as_of, dt.datetime) else self.as_of


# -- parsing ----------------------------------------------------------------------------------------

def parse(source: str | Iterable[Mapping[str, Any]]) -> list[Claim]:
    """Claims from CSV text (with the header row) or from a list of dicts (an API body).
    Raises InputError naming the row and the field on anything malformed."""
    if isinstance(source, str):
        reader = csv.DictReader(io.StringIO(source.lstrip("\ufeff")))
        header = [h.strip() for h in (reader.fieldnames or [])]
        if not header:
            raise InputError("claims: empty file (expected a header row: " + ",".join(COLUMNS) + ")")
        _check_columns(header)
        rows: list[Mapping[str, Any]] = [{k.strip(): v for k, v in r.items() if k is not None} for r in reader]
        first_line = 2
    else:
        rows = list(source)
        for r in rows:
            if not isinstance(r, Mapping):
                raise InputError(f"claims: expected objects with fields {', '.join(COLUMNS)}, got {type(r).__name__}")
            _check_columns(list(r), partial_quote=True)
        first_line = 1
    if not rows:
        raise InputError("claims: no claims in the input")
    out: list[Claim] = []
    seen: set[str] = set()
    for n, r in enumerate(rows, start=first_line):
        claim = _claim(r, n if isinstance(source, str) else f"#{n}")
        if claim.claim_id in seen:
            raise InputError(f"claims line {n}: duplicate claim_id {claim.claim_id!r}")
        seen.add(claim.claim_id)
        out.append(claim)
    return out


def read(path: str | Path) -> list[Claim]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"claims file {p} not found")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"claims file {p} is not UTF-8 text") from None
    return parse(text)


def _check_columns(header: list[str], partial_quote: bool = False) -> None:
    missing = [c for c in COLUMNS if c not in header and not (partial_quote and c == "quote")]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        msg = []
        if missing:
            msg.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            msg.append(f"unknown column(s) {', '.join(unknown)}")
        raise InputError(f"claims: {'; '.join(msg)} (expected {','.join(COLUMNS)})")


def _claim(r: Mapping[str, Any], line: Any) -> Claim:
    def field(name: str, required: bool = True) -> str:
        v = r.get(name)
        v = "" if v is None else str(v).strip()
        if required and not v:
            raise InputError(f"claims line {line}: empty {name}")
        return v

    comparator = field("comparator").lower()
    if comparator not in COMPARATORS:
        raise InputError(f"claims line {line}: comparator {comparator!r} is not one of {', '.join(COMPARATORS)}")
    raw = field("value")
    value: float | str
    try:
        value = float(raw.replace(",", "").replace("_", ""))
        if not math.isfinite(value):
            raise ValueError
    except ValueError:
        if comparator != "eq":
            raise InputError(f"claims line {line}: value {raw!r} is not a number (needed for {comparator})") from None
        value = raw
    as_of_raw = field("as_of")
    try:
        as_of: dt.date | dt.datetime = (dt.date.fromisoformat(as_of_raw) if len(as_of_raw) == 10
                                        else _instant(as_of_raw))
    except (ValueError, InputError):
        raise InputError(f"claims line {line}: as_of {as_of_raw!r} is not a date (YYYY-MM-DD) or UTC instant") from None
    return Claim(claim_id=field("claim_id"), finding_id=field("finding_id"), subject=field("subject"),
                 comparator=comparator, value=value, unit=field("unit"), as_of=as_of, window=field("window"),
                 quote=field("quote", required=False))


def _instant(text: str) -> dt.datetime:
    from btcstress.config import parse_instant
    return parse_instant(text)

