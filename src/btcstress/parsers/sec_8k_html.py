"""Strategy's 8-K "BTC Update" documents (HTML from SEC EDGAR) -> treasury_holdings, pure.

The same two forms ../shared/data/SOURCES.md describes for the snapshot's derived CSV:
1. the "BTC Update" table (2024 on): a header naming the period's "BTC Acquired", "Aggregate Purchase
   Price (in millions)", "Average Purchase Price", then "Aggregate BTC Holdings" (often "As of <date>"),
   "Aggregate Purchase Price (in billions)", "Average Purchase Price"; one data row starting with the
   period ("1/26/2026 - 2/1/2026"), dollar signs often in cells of their own;
2. the older prose: "As of <Month D, YYYY>, ... held an aggregate of approximately N bitcoins ...
   aggregate purchase price of approximately $X billion and an average purchase price of approximately
   $Y per bitcoin" (plus, when present, the period's "acquired approximately N bitcoins for approximately
   $X million ... at an average price of approximately $Y").
The figures found are written as one row of the snapshot CSV's columns and handed to
`treasury.parse_sec_8k`, so a live filing gets exactly the checks the snapshot gets (cost ~= holdings x
average within the stated rounding, as-of on or before the filing day and at most 14 days before it);
a failing row is quarantined. A document with neither form (an 8-K about something else) yields no
row and says so in `skipped`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re

from btcstress.parsers import treasury
from btcstress.parsers.common import Parsed, html_document

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_LONG_DATE = rf"(?:{_MONTHS})\s+\d{{1,2}},\s+\d{{4}}"
_SHORT_DATE = r"\d{1,2}/\d{1,2}/\d{4}"
_RANGE = re.compile(rf"^\s*({_SHORT_DATE}|{_LONG_DATE})\s*(?:-|–|—|to|through)\s*({_SHORT_DATE}|{_LONG_DATE})\s*$")
_NUM = re.compile(r"^\(?\$?\s*(-?[\d,]+(?:\.\d+)?)\s*\)?\s*(million|billion)?$", re.I)
_SCALE = {"million": 1e6, "billion": 1e9, "thousand": 1e3}


def _rows_and_text(html: str) -> tuple[list[list[str]], str]:
    """Every table row in the document (tables in any order, nested ones too) as cell texts, and the
    document's text. lxml's HTML parser builds the tree (implied end tags, entities, inline markup in
    cells); pandas.read_html is not used: it reads cells as numbers and repeats a colspan's value across
    the columns, while this reading depends on each cell's text and position ("$" cells of their own)."""
    root = html_document(html)
    if root is None:
        return [], ""
    rows = [[_clean(" ".join(cell.itertext())) for cell in tr.xpath("./td | ./th")] for tr in root.iter("tr")]
    return rows, " ".join(root.itertext())


def _clean(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("\xa0", " ")).strip()


def _date(s: str) -> dt.date:
    s = _clean(s)
    for fmt in ("%m/%d/%Y", "%B %d, %Y"):
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise ValueError(s)


def _number(cell: str) -> tuple[float, str | None] | None:
    m = _NUM.match(_clean(cell))
    if not m:
        return None
    return float(m[1].replace(",", "")), (m[2] or "").lower() or None


def extract(html: str) -> dict | None:
    """The figures of a BTC Update 8-K (table form first, then prose), or None."""
    rows, text = _rows_and_text(html)
    return _from_table(rows) or _from_prose(_clean(text))


def _from_table(rows: list[list[str]]) -> dict | None:
    header_text = ""
    for row in rows:
        cells = [c for c in row if c and c != "$"]
        if not cells:
            continue
        m = _RANGE.match(cells[0])
        if m and "aggregate btc holdings" in header_text.lower():
            nums = [_number(c) for c in cells[1:]]
            if len(nums) < 6 or any(n is None for n in nums[:6]):
                return None
            (p_btc, _), (p_cost, pu), (p_avg, _), (btc, _), (cost, cu), (avg, _) = nums[:6]
            units = re.findall(r"\(in (millions|billions|thousands)\)", header_text, re.I)
            p_unit = (pu or (units[0][:-1] if len(units) >= 1 else "million")).lower()
            a_unit = (cu or (units[1][:-1] if len(units) >= 2 else "billion")).lower()
            as_of_m = re.search(rf"[Aa]s of\s+({_SHORT_DATE}|{_LONG_DATE})", header_text)
            as_of = _date(as_of_m[1]) if as_of_m else _date(m[2])
            return {"as_of": as_of, "btc": btc, "cost": cost * _SCALE[a_unit], "avg": avg,
                    "p_btc": p_btc, "p_cost": p_cost * _SCALE[p_unit], "p_avg": p_avg, "form": "table"}
        header_text += " " + " ".join(cells)
    return None


_PROSE_AGG = re.compile(
    rf"[Aa]s of ({_LONG_DATE}),.{{0,300}}?held an aggregate of approximately ([\d,]+) bitcoins?"
    r".{0,200}?aggregate purchase price of approximately \$([\d.,]+) (million|billion)"
    r".{0,120}?average purchase price of approximately \$([\d,]+(?:\.\d+)?)", re.S)
_PROSE_PERIOD = re.compile(
    r"acquired (?:an aggregate of )?approximately ([\d,]+) bitcoins? for (?:an aggregate of )?approximately "
    r"\$([\d.,]+) (million|billion)(?: in cash)?,? at an average (?:purchase )?price of approximately \$([\d,]+(?:\.\d+)?)",
    re.S)


def _from_prose(text: str) -> dict | None:
    m = _PROSE_AGG.search(text)
    if not m:
        return None
    out = {"as_of": _date(m[1]), "btc": float(m[2].replace(",", "")),
           "cost": float(m[3].replace(",", "")) * _SCALE[m[4]], "avg": float(m[5].replace(",", "")),
           "p_btc": None, "p_cost": None, "p_avg": None, "form": "prose"}
    pm = _PROSE_PERIOD.search(text)
    if pm:
        out.update(p_btc=float(pm[1].replace(",", "")), p_cost=float(pm[2].replace(",", "")) * _SCALE[pm[3]],
                   p_avg=float(pm[4].replace(",", "")))
    return out


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    if not math.isfinite(v):  # a figure too large for a float: left for the strict CSV check to refuse
        return repr(v)
    return str(int(round(v))) if abs(v - round(v)) < 1e-6 else repr(v)


def parse(html: str, origin: str, *, filing_date: dt.date, document: str, entity: str = "Strategy") -> Parsed:
    """One 8-K document -> at most one treasury_holdings row (checked by treasury.parse_sec_8k)."""
    figures = extract(html)
    if figures is None:
        out = Parsed(origin=origin)
        out.lines_in = 1
        out.skip("no BTC Update (table or prose) in the document")
        return out
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(treasury.SEC_8K_COLUMNS)
    w.writerow([figures["as_of"].isoformat(), _fmt(figures["btc"]), _fmt(figures["cost"]), _fmt(figures["avg"]),
                _fmt(figures["p_btc"]), _fmt(figures["p_cost"]), _fmt(figures["p_avg"]), filing_date.isoformat(),
                document])
    return treasury.parse_sec_8k(buf.getvalue(), origin, entity=entity)
