"""Farside Investors' US spot Bitcoin ETF flow table, in either of its two shapes.

1. The daily CSV export (../shared/data/etf/farside_btc_etf_flows_daily.csv):
   `date,IBIT,FBTC,...,Total`, ISO dates, plain numbers, a minus sign for outflows.
2. The layout of Farside's web table (an HTML <table>, or the same table pasted as CSV/TSV):
   a header row of tickers (possibly with a fee row under it), dates such as "05 Feb 2026",
   values with thousands separators and parentheses for outflows ("(175.3)"), "-" or blank for a
   fund that has not reported yet, a Total column, and summary rows at the bottom
   (Total / Average / Maximum / Minimum) that are not days.

Both are US$ millions; rows are stored in USD. One file is one *vintage* of the table:
- with `published_at` (``btcstress ingest etf FILE --published-at T``), every day in the file is
  stored with vintage T, the instant that version was published;
- without it (the snapshot's final table), each day is stored as the versions it was published in,
  fund by fund: a fund's flow counts from its usual publication instant (etf_funds.csv,
  `publication_hours` after 00:00 UTC of the next calendar day; IBIT reports hours after the others),
  so until the last fund's instant the day is preliminary and names the funds not yet reported;
- with `publication_delay` instead, every fund of a day counts from the day's 00:00 UTC + that delay
  (one vintage per day: the old uniform rule, kept for tables whose timing is known to be uniform).

A launched fund's blank cell means "not yet reported": the fund's row is kept with a null flow and
the day is *preliminary*, naming the missing funds. A blank before the fund's launch date
(etf_funds.csv) is not an observation and is skipped, counted. A row with no fund reported at all
(Farside lists US market holidays with a 0.0 Total) is recorded as a day with no flows.
The Total column is checked against the sum of the funds (each cell is rounded to 0.1, so the
tolerance is 0.05 per reported fund plus 0.05 for the Total itself); a Total that fails goes to
quarantine with both numbers, and the day keeps its fund rows (the net flow is always the sum).
"""

from __future__ import annotations

import csv
import datetime as dt
import re

from btcstress.parsers import etf_funds
from btcstress.parsers.common import Invalid, Parsed, html_document, html_text
from btcstress.store import utc_naive

FLOWS = "etf_flows"
DAYS = "etf_flow_days"

MILLION = 1_000_000.0
# The first US spot bitcoin ETFs (and GBTC's conversion) traded on 2024-01-11; nothing can be older.
FIRST_DAY = dt.date(2024, 1, 11)

# First-column labels of rows that are not days: summary rows under the table, the fee row under
# the header. Anything else that is not a date is refused.
SUMMARY_LABELS = {"total", "average", "maximum", "minimum", "sum", "mean", "max", "min"}
ANNOTATION_LABELS = {"fee", "fees", "seed", "ticker", "tickers"}
BLANKS = {"", "-", "\u2013", "\u2014", "n/a", "na"}
_DATE_FORMATS = ("%Y-%m-%d", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d/%m/%Y")


def parse(text: str, origin: str, *, published_at: dt.datetime | None = None,
          publication_delay: dt.timedelta | None = None,
          funds: tuple[etf_funds.Fund, ...] | None = None) -> Parsed:
    """Farside table text (CSV, TSV or HTML) -> etf_flows and etf_flow_days rows of one vintage."""
    out = Parsed(origin=origin)
    names = etf_funds.lookup(funds)
    vintage_fixed = utc_naive(published_at) if published_at is not None else None
    rows = list(_rows(text))
    header_at = next((i for i, (_, cells, _) in enumerate(rows) if _is_header(cells, names)), None)
    if header_at is None:
        from btcstress.errors import ParseError
        raise ParseError(f"{origin}: no header row with fund tickers found (expected e.g. Date,IBIT,FBTC,...,Total)")
    for _ in rows[:header_at]:
        out.skip("preamble above the header")
    _, header, _ = rows[header_at]
    header = [h.strip() for h in header]
    total_col = next((i for i, h in enumerate(header) if h.lower() == "total"), None)
    fund_cols = [(i, h) for i, h in enumerate(header) if i > 0 and i != total_col and h]
    for line, cells, raw in rows[header_at + 1:]:
        out.lines_in += 1
        first = cells[0].strip() if cells else ""
        if first.lower().rstrip(":") in SUMMARY_LABELS:
            out.skip("summary row (Total/Average/Maximum/Minimum), not a day")
            continue
        if first.lower().rstrip(":") in ANNOTATION_LABELS or (not first and _no_numbers(cells[1:])):
            out.skip("annotation row under the header (fees, seed)")
            continue
        try:
            if len(cells) != len(header):
                raise Invalid("*", len(cells), f"row has {len(cells)} fields, header has {len(header)}")
            d = _date(first)
            if vintage_fixed is not None and d > vintage_fixed.date():
                raise Invalid("date", first, f"day after the publication instant {vintage_fixed:%Y-%m-%dT%H:%MZ}")
        except Invalid as exc:
            out.refuse(FLOWS, line, exc, raw)
            continue
        if vintage_fixed is not None or publication_delay is not None:
            vintage = vintage_fixed or (dt.datetime(d.year, d.month, d.day) + publication_delay)
            _day(out, line, raw, d, vintage, cells, fund_cols, total_col, names)
        else:
            versions = _per_fund_vintages(d, cells, fund_cols, total_col, names)
            refused = len(out.quarantine)
            _day(out, line, raw, d, versions[-1][0], versions[-1][1], fund_cols, total_col, names)
            if len(out.quarantine) > refused:
                continue  # the final version refused a cell: no version of the day is stored
            for vintage, masked in versions[:-1]:  # earlier versions: their rows only (skips counted once)
                early = Parsed(origin=out.origin)
                _day(early, line, raw, d, vintage, masked, fund_cols, total_col, names)
                for target, rows in early.rows.items():
                    out.rows[target].extend(rows)
    return out


def _per_fund_vintages(d: dt.date, cells: list[str], fund_cols: list[tuple[int, str]], total_col: int | None,
                       names: dict) -> list[tuple[dt.datetime, list[str]]]:
    """The versions of a final row as it was published, fund by fund: at each fund's usual
    publication instant (etf_funds.csv) the funds published by then, the later ones blank (not yet
    reported). The Total is only the final version's (an earlier Total was never in the file)."""
    times = {i: names[col.lower()].published(d) for i, col in fund_cols
             if col.lower() in names and cells[i].strip().lower() not in BLANKS}
    if not times:  # a holiday row (or nothing reported): one version, when the last fund would report
        latest = max((f.published(d) for f in set(names.values())), default=dt.datetime(d.year, d.month, d.day))
        return [(latest, cells)]
    versions = sorted(set(times.values()))
    out = []
    for v in versions:
        masked = [("" if (i in times and times[i] > v) or (i == total_col and v != versions[-1]) else c)
                  for i, c in enumerate(cells)]
        out.append((v, masked))
    return out


def _fund_cells(out: Parsed, line: int, raw: str, d: dt.date, cells: list[str], fund_cols: list[tuple[int, str]],
                names: dict) -> tuple[dict[str, float], list[str], bool]:
    """The day's fund cells: {ticker: US$m} reported, the launched funds left blank, and whether every
    cell was valid (a refused cell is quarantined here)."""
    reported: dict[str, float] = {}
    missing: list[str] = []
    ok = True
    for i, col in fund_cols:
        cell = cells[i]
        fund = names.get(col.lower())
        try:
            v = millions(cell, col)
            if fund is None:
                if v is not None:
                    raise Invalid(col, cell, f"unknown fund column {col!r}: add it to etf_funds.csv")
                out.skip(f"blank cell in unknown column ({col})")
                continue
            if v is None:
                if fund.launched_by(d):
                    missing.append(fund.ticker)
                else:
                    out.skip(f"blank before launch ({fund.ticker})")
                continue
            if not fund.launched_by(d):
                raise Invalid(col, cell, f"a flow before {fund.ticker}'s launch on {fund.launch_date} "
                                         "(etf_funds.csv)")
            reported[fund.ticker] = v
        except Invalid as exc:
            out.refuse(FLOWS, line, exc, raw)
            ok = False
    return reported, missing, ok


def _day(out: Parsed, line: int, raw: str, d: dt.date, vintage: dt.datetime, cells: list[str],
         fund_cols: list[tuple[int, str]], total_col: int | None, names: dict) -> None:
    """One day's row of one vintage: a flow per fund (blank = missing once launched) and the day's total,
    checked against the sum of the funds."""
    reported, missing, ok = _fund_cells(out, line, raw, d, cells, fund_cols, names)
    try:
        total = millions(cells[total_col], "Total") if total_col is not None else None
    except Invalid as exc:
        out.refuse(DAYS, line, exc, raw)
        total, ok = None, False
    if not ok:
        return  # a day with a refused cell is not stored half: its good cells would misstate the day
    if not reported:
        if total not in (None, 0.0):
            out.refuse(DAYS, line, Invalid("Total", cells[total_col], "a Total but no fund reported"), raw)
            return
        out.add(DAYS, {"date": d, "vintage": vintage, "total_usd": None if total is None else 0.0,
                       "funds_reported": 0, "missing_funds": "", "preliminary": False,
                       "available_at": vintage, "_line": line})
        return
    for ticker, v in reported.items():
        out.add(FLOWS, {"date": d, "fund": ticker, "vintage": vintage, "net_flow_usd": round(v * MILLION, 2),
                        "available_at": vintage, "_line": line})
    for ticker in missing:
        out.add(FLOWS, {"date": d, "fund": ticker, "vintage": vintage, "net_flow_usd": None,
                        "available_at": vintage, "_line": line})
    if total is not None:
        s = sum(reported.values())
        tolerance = 0.05 * (len(reported) + 1) + 1e-9
        if abs(s - total) > tolerance:
            out.refuse(DAYS, line, Invalid("Total", cells[total_col],
                                           f"published Total {total:,.1f} differs from the sum of funds "
                                           f"{s:,.1f} by {abs(s - total):,.1f} (tolerance {tolerance:.2f}, US$m)"),
                       raw)
            total = None
    out.add(DAYS, {"date": d, "vintage": vintage, "total_usd": None if total is None else round(total * MILLION, 2),
                   "funds_reported": len(reported), "missing_funds": ",".join(missing),
                   "preliminary": bool(missing), "available_at": vintage, "_line": line})


def millions(cell: str, field: str) -> float | None:
    """A Farside cell in US$ millions: '12.3', '-12.3', '(175.3)', '1,234.5', '$1.2'; '-' or '' is None."""
    s = cell.strip().replace("\u2212", "-").replace("\xa0", "").replace(" ", "")
    if s.lower() in BLANKS:
        return None
    negative = s.startswith("(") and s.endswith(")")
    if negative:
        s = s[1:-1]
    s = s.replace("$", "")
    if not re.fullmatch(r"-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?", s):
        raise Invalid(field, cell, "not a number (US$ millions)")
    v = float(s.replace(",", ""))
    if negative:
        if v < 0:
            raise Invalid(field, cell, "both parentheses and a minus sign")
        v = -v
    return v


def _date(cell: str) -> dt.date:
    for fmt in _DATE_FORMATS:
        try:
            d = dt.datetime.strptime(cell, fmt).date()
            break
        except ValueError:
            continue
    else:
        raise Invalid("date", cell, "not a date (YYYY-MM-DD or e.g. 05 Feb 2026)")
    latest = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
    if not FIRST_DAY <= d <= latest:
        raise Invalid("date", cell, f"date out of range [{FIRST_DAY}, {latest}] (first US spot BTC ETF day)")
    return d


def _is_header(cells: list[str], names: dict) -> bool:
    known = sum(1 for c in cells[1:] if c.strip().lower() in names or c.strip().lower() == "total")
    return known >= 2


def _no_numbers(cells: list[str]) -> bool:
    return not any(re.search(r"\d", c) and not c.strip().endswith("%") for c in cells)


# -- reading the table's rows -------------------------------------------------------------------

def _rows(text: str):
    """(line, cells, raw) per table row, from HTML or from CSV/TSV text."""
    if re.search(r"<\s*table", text, re.I):
        yield from _html_rows(text)
        return
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    for lineno, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
        if not cells or all(not c.strip() for c in cells):
            continue
        yield lineno, [c.strip() for c in cells], lines[lineno - 1] if lineno - 1 < len(lines) else ""


def _html_rows(text: str):
    """(line, cells, raw) per row of the first <table> (not of tables nested in its cells).

    lxml's HTML parser (libxml2, the parser under pandas.read_html) builds the table model: implied end
    tags, <thead>/<tbody>, entities. pandas.read_html itself does not fit: its frame has no source lines
    (a refused cell is quarantined with its line) and it reads cells as numbers (the raw text is checked
    here, "(175.3)" and "-" included). A cell's text has its whitespace collapsed (<br> is a space); a
    colspan is padded with blank cells. The line is the <tr>'s line in the page; where that cannot tell
    rows apart (a page written on one line, or past line 65,535, where libxml2's count stops), it is the
    row's position in the table instead, so every refused row keeps a line of its own."""
    root = html_document(text)
    table = None if root is None else next(root.iter("table"), None)
    if table is None:
        return
    found = []
    for position, tr in enumerate(table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr"), start=1):
        cells: list[str] = []
        for cell in tr.xpath("./td | ./th"):
            span = str(cell.get("colspan") or "1").strip()
            cells += [html_text(cell)] + [""] * (min(int(span), 1000) - 1 if span.isdigit() else 0)  # HTML caps at 1000
        if any(cells):
            found.append((tr.sourceline or 0, position, cells))
    lines = [line for line, _, _ in found]
    by_source = len(set(lines)) == len(lines) and max(lines, default=0) < 65535
    for line, position, cells in found:
        yield (line if by_source else position), cells, " | ".join(cells)
