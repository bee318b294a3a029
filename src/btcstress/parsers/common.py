"""What every parser shares: the Parsed result, CSV reading with line numbers, and validation.

A parser turns raw text into canonical rows. A value it cannot trust goes to quarantine with the
file, line, field and reason; it is never dropped or coerced. Rows that carry no observation at all
(a CryptoQuant row before the series starts, all blanks) are skipped and counted under a stated
reason, so the summary accounts for every input line.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa

from btcstress.errors import ParseError
from btcstress.schema import TABLES

# Bitcoin's genesis block; no market row can be older.
EARLIEST_DATE = dt.date(2009, 1, 3)


class Invalid(ValueError):
    """One field of one row failed validation."""

    def __init__(self, field: str, value: Any, reason: str):
        super().__init__(f"{field}={value!r}: {reason}")
        self.field, self.value, self.reason = field, value, reason


@dataclass
class Parsed:
    """What a parser made of one file: canonical rows per target table, and what it refused."""

    origin: str
    rows: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    quarantine: list[dict] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    lines_in: int = 0  # data lines read (header excluded)

    def add(self, target: str, row: dict) -> None:
        """Keep a canonical row, unless a value breaks its series' physical bounds (parsers/bounds.py):
        then the row goes to quarantine. Every row of every importer passes this gate."""
        row.setdefault("origin", self.origin)
        from btcstress.parsers import bounds
        try:
            bounds.check(target, row)
        except Invalid as exc:
            self.refuse(target, row.get("_line", 0), exc, {k: v for k, v in row.items() if k != "_line"})
            return
        self.rows[target].append(row)

    def refuse(self, target: str, line: int, exc: Invalid, raw: Any) -> None:
        self.quarantine.append({"target": target, "file": self.origin, "line": line, "field": exc.field,
                                "value": None if exc.value is None else str(exc.value), "reason": exc.reason,
                                "raw": raw if isinstance(raw, str) else json.dumps(raw, default=str)})

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def tables(self) -> dict[str, pa.Table]:
        """Rows as Arrow tables, duplicate keys resolved: identical repeats collapse (counted),
        conflicting repeats go to quarantine, every copy of them."""
        out = {}
        for target, rows in self.rows.items():
            t = TABLES[target]
            rows = self._resolve_duplicates(target, t.key, rows)
            if rows:
                schema = t.arrow_schema(with_meta=False)
                cols = list(rows[0].keys())
                out[target] = pa.table({c: pa.array([r.get(c) for r in rows],
                                                    schema.field(c).type if c in schema.names else None)
                                        for c in cols})
        return out

    def _resolve_duplicates(self, target: str, key: tuple[str, ...], rows: list[dict]) -> list[dict]:
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for r in rows:
            groups[tuple(r[k] for k in key)].append(r)
        kept = []
        for k, group in groups.items():
            if len(group) == 1:
                kept.append(group[0])
                continue
            payloads = {json.dumps({c: v for c, v in r.items() if c != "_line"}, sort_keys=True, default=str)
                        for r in group}
            if len(payloads) == 1:
                kept.append(group[0])
                self.skip("exact duplicate of an earlier line")
                continue
            lines = [r.get("_line") for r in group]
            for r in group:
                self.quarantine.append({
                    "target": target, "file": self.origin, "line": r.get("_line", 0), "field": ",".join(key),
                    "value": json.dumps(dict(zip(key, k)), default=str),
                    "reason": f"duplicate key with different values (lines {lines})",
                    "raw": json.dumps({c: v for c, v in r.items() if c != "_line"}, default=str)})
        for r in kept:
            r.pop("_line", None)
        return kept


# A field longer than this is not a value of any series (the csv module's default limit is 128 KiB and
# raises past it; the DefiLlama snapshot's JSON cells are the longest real fields, a few KiB).
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
MAX_FIELD = 1 << 20


def csv_rows(lines: list[str]) -> Iterator[tuple[int, list[str] | None]]:
    """(line number, fields) per physical line; a line the csv module cannot split (a stray quote
    spanning lines is read per line, a NUL byte, a huge field) yields None instead of raising."""
    for lineno, line in enumerate(lines, start=1):
        try:
            values = next(csv.reader([line]), [])
        except csv.Error:
            yield lineno, None
            continue
        if any(len(v) > MAX_FIELD for v in values):
            yield lineno, None
            continue
        yield lineno, values


def read_csv(text: str, origin: str, required: Iterable[str]) -> Iterator[tuple[int, dict[str, str], str]]:
    """Yield (line number, row dict, raw line) for each data line; line 1 is the header.

    One physical line is one row (no CSV file here has line breaks inside a field), so a stray quote
    cannot swallow the lines after it. A line the csv module cannot split comes back as a row of the
    wrong width, which every parser quarantines.
    Raises ParseError when the header lacks a required column (the file is not what we think).
    """
    lines = text.splitlines()
    rows = csv_rows(lines)
    first = next(rows, None)
    if first is None or first[1] is None:
        raise ParseError(f"{origin}: empty file" if first is None else f"{origin}: line 1: unreadable header")
    header = [h.strip() for h in first[1]]
    missing = [c for c in required if c not in header]
    if missing:
        raise ParseError(f"{origin}: line 1: missing column(s) {missing[:10]}; header is {header[:20]}")
    for lineno, values in rows:
        raw = lines[lineno - 1]
        if values is None:
            yield lineno, {"__width__": "unreadable"}, raw
            continue
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            yield lineno, {"__width__": str(len(values)), **dict(zip(header, values))}, raw
            continue
        yield lineno, dict(zip(header, (v.strip() for v in values))), raw


def check_width(row: dict[str, str], expected: int) -> None:
    if "__width__" in row:
        if row["__width__"] == "unreadable":
            raise Invalid("*", None, "line cannot be split into CSV fields (stray quote, NUL byte or huge field)")
        raise Invalid("*", row["__width__"], f"row has {row['__width__']} fields, header has {expected}")


def parse_table(text: str, origin: str, required: Iterable[str], target: str,
                row: Callable[[dict[str, str]], dict]) -> Parsed:
    """A CSV whose every data line is one row of `target` built by `row` (raising Invalid): each line
    is stored or quarantined with its field and reason."""
    out = Parsed(origin=origin)
    for line, fields, raw in read_csv(text, origin, required):
        out.lines_in += 1
        try:
            if "__width__" in fields:
                raise Invalid("*", fields["__width__"], "row width differs from the header")
            out.add(target, {**row(fields), "_line": line})
        except Invalid as exc:
            out.refuse(target, line, exc, raw)
    return out


# -- field validators ---------------------------------------------------------------------------

# A plain decimal number in ASCII: an optional sign, digits with an optional point, an optional
# exponent. Python's float() is more lenient (it takes "95_000", full-width or Arabic-Indic digits,
# "inf", "nan", surrounding whitespace); a data file never means any of those.
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d{1,30}", re.ASCII)


def strict_float(raw: Any, field: str) -> float:
    """A finite float from a data cell or a JSON value, strictly: a JSON number (not a boolean) or a
    plain ASCII decimal string. Raises Invalid otherwise (never OverflowError, never inf or nan)."""
    if isinstance(raw, bool):
        raise Invalid(field, raw, "not a number (a boolean)")
    if isinstance(raw, int):
        if abs(raw) > 10**300:
            raise Invalid(field, str(raw)[:40], "not a finite number")
        return float(raw)
    if isinstance(raw, float):
        v = raw
    elif isinstance(raw, str):
        if len(raw) > 64 or not _DECIMAL.fullmatch(raw):
            raise Invalid(field, raw[:64], "not a number")
        v = float(raw)
    else:
        raise Invalid(field, None if raw is None else str(raw)[:64], "not a number")
    if not math.isfinite(v):
        raise Invalid(field, raw, "not a finite number")
    return v


def strict_int(raw: Any, field: str) -> int:
    """An integer from a data cell or a JSON value (epoch timestamps, counts): an int (not a
    boolean) or a plain ASCII digit string; "1_000", "１２", "1e3" and floats are refused."""
    if isinstance(raw, bool):
        raise Invalid(field, raw, "not an integer (a boolean)")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _INTEGER.fullmatch(raw):
        return int(raw)
    raise Invalid(field, None if raw is None else str(raw)[:64], "not an integer")


def number(row: dict[str, str], name: str, *, positive: bool = False, non_negative: bool = False,
           optional: bool = False) -> float | None:
    raw = row.get(name)
    if raw is None or raw == "":
        if optional:
            return None
        raise Invalid(name, raw, "missing value")
    v = strict_float(raw, name)
    if positive and v <= 0:
        raise Invalid(name, raw, "must be > 0")
    if non_negative and v < 0:
        raise Invalid(name, raw, "must be >= 0")
    return v


def positive_value(raw: Any, field: str) -> float:
    """A value from a JSON payload that must be a finite number > 0 (prices, sizes, hashrates)."""
    v = strict_float(raw, field)
    if not v > 0:
        raise Invalid(field, raw, "must be a finite number > 0")
    return v


def integer(row: dict[str, str], name: str, *, optional: bool = False) -> int | None:
    v = number(row, name, optional=optional, non_negative=True)
    if v is None:
        return None
    if v != int(v):
        raise Invalid(name, row.get(name), "not a whole number")
    return int(v)


def day(row: dict[str, str], name: str, *, latest: dt.date | None = None) -> dt.date:
    raw = row.get(name) or ""
    try:
        if not raw.isascii() or len(raw) > 32:
            raise ValueError(raw)
        d = dt.date.fromisoformat(raw[:10]) if len(raw) >= 10 else dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid(name, raw, "not a date (YYYY-MM-DD)") from None
    latest = latest or (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1))
    if not EARLIEST_DATE <= d <= latest:
        raise Invalid(name, raw, f"date out of range [{EARLIEST_DATE}, {latest}]")
    return d


def ohlc(o: float, h: float, l: float, c: float) -> None:
    """The bar's own consistency: high >= low, open and close within [low, high]."""
    if h < l:
        raise Invalid("high", h, f"high < low ({h} < {l})")
    if not l <= o <= h:
        raise Invalid("open", o, f"open outside [low, high] = [{l}, {h}]")
    if not l <= c <= h:
        raise Invalid("close", c, f"close outside [low, high] = [{l}, {h}]")


# -- epoch timestamps ---------------------------------------------------------------------------

# Divisors to microseconds and the magnitude band each unit occupies for dates 2001..2286.
_UNIT_BANDS = [("s", 10**6, 1e9, 1e10), ("ms", 10**3, 1e12, 1e13), ("us", 1, 1e15, 1e16), ("ns", 10**-3, 1e18, 1e19)]


def epoch_unit(value: float) -> str:
    """'s', 'ms', 'us' or 'ns' from the magnitude of an epoch timestamp."""
    for unit, _, lo, hi in _UNIT_BANDS:
        if lo <= abs(value) < hi:
            return unit
    raise ValueError(value)


def from_epoch(value: int, unit: str) -> dt.datetime:
    """Naive UTC datetime from an epoch integer in the given unit."""
    if unit == "s":
        us = value * 10**6
    elif unit == "ms":
        us = value * 10**3
    elif unit == "us":
        us = value
    else:
        us = value // 10**3
    return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=us)


def detect_file_unit(values: Iterable[str]) -> str | None:
    """The unit most values of a file's timestamp column are in (None if nothing parses)."""
    counts: Counter = Counter()
    for v in values:
        try:
            counts[epoch_unit(strict_float(v, "ts"))] += 1
        except (Invalid, ValueError):
            continue
    return counts.most_common(1)[0][0] if counts else None


Parser = Callable[[str, str], Parsed]


# -- HTML (Farside's web table, SEC 8-K documents) ----------------------------------------------

def html_document(text: str):
    """The parsed page (lxml.html), or None when there is nothing to parse. Parsed from UTF-8 bytes so a
    page's own encoding declaration cannot contradict the text it was already decoded to."""
    import lxml.etree
    import lxml.html
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8", "replace"),
                                             parser=lxml.html.HTMLParser(encoding="utf-8"))
    except lxml.etree.ParserError:  # "Document is empty": no element at all
        return None
    for br in root.iter("br"):  # a line break separates words: "a<br>b" reads "a b"
        br.tail = " " + (br.tail or "")
    return root


def html_text(el) -> str:
    """An element's text (comments left out) with each run of whitespace as one space."""
    return " ".join("".join(el.itertext()).split())
