"""`btcstress findings` and `btcstress report`: the findings as of an instant, and the brief written from them."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable

from btcstress import config as cfg
from btcstress.cli import (AS_OF, BACKEND, DATE, PARAM, PRICE, app, console, fail, hypothetical_price, instant, log,
                           model_params, read_store, spinner, state, writable_out)
from btcstress.errors import BtcstressError, InputError


COLUMNS = ("id", "subject", "value", "window", "note", "kind", "unit", "as_of", "sources")
DEFAULT_COLUMNS = "id,subject,value,window,note"
STALE_AFTER = dt.timedelta(days=3)  # newest source row older than this at as-of: the value is marked stale


@app.command()
def findings(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE, price: Optional[float] = PRICE,
             ids: Optional[str] = typer.Option(None, "--ids", help="Comma-separated finding ids or prefixes "
                                                                    "(`btcstress ids` lists them) [default: all]"),
             subject: Optional[str] = typer.Option(None, "--subject", help="Only this subject, e.g. BTC, IBIT, "
                                                                          "Strategy [default: all]"),
             param: list[str] = PARAM,
             columns: str = typer.Option(DEFAULT_COLUMNS, "--columns",
                                         help=f"Table columns, from {','.join(COLUMNS)}"),
             wide: bool = typer.Option(False, "--wide", help="Every column (same as --columns with all of them)"),
             as_json: bool = typer.Option(False, "--json", help="The JSON envelope {as_of, as_of_basis, price, count, "
                                                               "findings} on stdout (docs/API.md)"),
             derive: bool = typer.Option(False, "--derive", help="Compute every finding with its full derivation "
                                                                 "(source rows, detail) instead of reading the stored "
                                                                 "values in finding_history"),
             backend: Optional[str] = BACKEND):
    """The findings as of an instant, with their provenance. On the grid (a day's end, an hour's end where
    the data is hourly) the materialised areas are read from finding_history when it is fresh; the rest
    is computed. `--json` says per area which (`served`); --derive computes all."""
    from btcstress import envelope, metrics
    try:
        cols = list(COLUMNS) if wide else [c.strip() for c in columns.split(",") if c.strip()]
        bad = [c for c in cols if c not in COLUMNS]
        if bad:
            raise InputError("; ".join(f"unknown column {c!r}{envelope.did_you_mean(c, COLUMNS)}" for c in bad)
                             + f" (columns: {', '.join(COLUMNS)})")
        if ids:  # against the finding catalogue before anything is computed (as the API does): a typo fails fast
            from btcstress import areas
            envelope.refuse_unknown_ids(envelope.wanted_ids(ids), areas.catalogue())
        t = instant(as_of, date)
        p = hypothetical_price(price)
        from btcstress.history import served
        with spinner("computing findings"), read_store(backend) as store:
            got = served.findings_at(store, t, params=model_params(param), price=p, derive=derive,
                                     areas=served.areas_for(envelope.wanted_ids(ids) if ids else None))
        fs = got.fs
        chosen = envelope.select(fs, ids, subject)
        log.info("%d findings as of %s, %d shown; %s", len(fs), fs.as_of, len(chosen),
                 "; ".join(f"{a}: {h}" for a, h in got.how.items()))
        if as_json:
            body = envelope.findings_envelope(fs, chosen, price=p, basis=state.as_of_basis, served=got.how)
            sys.stdout.write(json.dumps(body, indent=2) + "\n")
            return
        print_findings(chosen, fs.as_of, cols)
        console.print(served_line(got.how), highlight=False)
    except BtcstressError as exc:
        fail(exc)


def served_line(how: dict[str, str]) -> str:
    """Under the table: which areas were read from finding_history and which computed (and why)."""
    stored = [a for a, h in how.items() if h.startswith("stored (finding_history")]
    parts = []
    if stored:
        parts.append(f"{', '.join(stored)}: {how[stored[0]]} (--derive computes them with their sources)")
    by_why: dict[str, list[str]] = {}  # the others, by how: the stored snapshot, or computed and why
    for a, h in how.items():
        if a not in stored:
            by_why.setdefault(h, []).append(a)
    parts += [f"{', '.join(a)}: {h}" for h, a in by_why.items()]
    return "served: " + "; ".join(parts)


def stale_since(f, t: dt.datetime) -> Optional[dt.date]:
    """The date of a finding's newest source row when that is more than STALE_AFTER before as-of."""
    lasts = [s.last for s in f.sources if s.last is not None]
    if not lasts or f.value is None:
        return None
    newest = max(x if x.tzinfo else x.replace(tzinfo=dt.timezone.utc) for x in lasts)
    return newest.date() if t - newest > STALE_AFTER else None


# Column caps, and the order and floor to which columns give way when the terminal is narrow.
CAPS = {"subject": 9, "value": 18, "window": 13, "unit": 8, "kind": 10, "as_of": 20, "id": 40}
SQUEEZE = (("value", 14), ("subject", 8), ("window", 8))  # value 14: "$90,000 @02-01" whole
FLEXIBLE = ("note", "sources")  # these take what the fixed columns leave
NOTE_INLINE_MIN = 30  # a note column narrower than this is replaced by numbered notes under the table


def print_findings(chosen, t: dt.datetime, cols: Optional[list[str]] = None) -> None:
    """A compact table that fits the terminal (or COLUMNS): ids never split. Notes stay readable at any
    width: in their column (wrapped) when it has room, else numbered ("[3]") and written out in full under
    the table, each distinct note once. A window squeezed below its length drops the year of dates in the
    as-of's year ("1d:02-05"), as stale values do ("@02-01")."""
    from rich import box
    from rich.text import Text

    from btcstress.findings import iso
    cols = cols or DEFAULT_COLUMNS.split(",")
    t = t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
    rows = [_cells(f, t) for f in chosen]
    widths, longest = _widths(rows, cols, console.width)
    notes: dict[str, int] = {}
    if "note" in cols and widths["note"] < min(NOTE_INLINE_MIN, longest["note"]):
        for r in rows:
            if r["note"]:
                r["note"] = f"[{notes.setdefault(r['note'], len(notes) + 1)}]"
        widths, longest = _widths(rows, cols, console.width)
    if "window" in cols and widths["window"] < longest["window"]:
        for r in rows:  # whole dates only: "published:2026-01" keeps its year
            r["window"] = re.sub(rf"\b{t.year}-(\d\d-\d\d)\b", r"\1", r["window"])
        widths, longest = _widths(rows, cols, console.width)
    table = RichTable(title=f"findings as of {iso(t)}", box=box.SIMPLE_HEAD, pad_edge=False, padding=0,
                      title_justify="left")
    for c in cols:
        wrap = c in FLEXIBLE
        table.add_column(c, width=widths[c] + 1, no_wrap=not wrap, overflow="fold" if c == "sources" else "ellipsis")
    for r in rows:
        table.add_row(*[Text(r[c]) for c in cols])  # Text: data is never read as markup
    console.print(table)
    if notes:
        grid = RichTable.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, justify="right")
        grid.add_column()  # wraps at word boundaries within the terminal's width
        for text, n in notes.items():
            grid.add_row(f"[{n}]", Text(text))
        console.print(Text("notes:"), grid)


def _widths(rows: list[dict], cols: list[str], width: int) -> tuple[dict[str, int], dict[str, int]]:
    """Each column's width: the fixed ones at their longest cell up to a cap, squeezed (SQUEEZE) until the
    flexible ones get at least 4 columns each, which share the rest."""
    longest = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in cols}
    widths = {c: min(longest[c], CAPS[c]) for c in cols if c not in FLEXIBLE}
    flexible = [c for c in cols if c in FLEXIBLE]
    room = width - 2 - len(cols)  # the table's two edges and one cell edge per column (Rich's layout)
    for c, floor in SQUEEZE:
        while c in widths and widths[c] > floor and room - sum(widths.values()) < 4 * len(flexible):
            widths[c] -= 1
    spare = room - sum(widths.values())
    for c in flexible:
        widths[c] = max(3, min(longest[c], spare // len(flexible)))
    return widths, longest


def _cells(f, t: dt.datetime) -> dict[str, str]:
    from btcstress.brief.fmt import text
    from btcstress.findings import iso
    value = "n/a" if f.value is None else (text(f.value, f.unit) if isinstance(f.value, (int, float))
                                          else _short(f.value))
    notes = []
    if f.hypothetical:
        notes.append("hypothetical")
    stale = stale_since(f, t)
    if stale is not None:
        # marked in the value itself (the note may be cut at 80 columns): "@02-01" = data of 1 February
        value += f" @{stale:%m-%d}" if stale.year == t.year else f" @{stale:%Y-%m-%d}"
        notes.insert(0, f"stale: newest data {stale:%Y-%m-%d}")
    if f.note:
        notes.append(f.note)
    return {"id": f.id, "subject": f.subject, "value": value, "window": f.window, "note": "; ".join(notes),
            "kind": f.kind, "unit": f.unit, "as_of": iso(f.as_of), "sources": "; ".join(s.origin for s in f.sources)}


def _short(v) -> str:
    s = json.dumps(v, default=str) if isinstance(v, (list, dict)) else str(v)
    return s if len(s) <= 16 else s[:15] + "…"


@app.command()
def report(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE, price: Optional[float] = PRICE,
           out: Path = typer.Option(Path("out"), "--out", help="Folder for brief.md, brief.html, brief.json"),
           param: list[str] = PARAM, backend: Optional[str] = BACKEND):
    """Write the brief (Markdown, self-contained HTML, JSON) as of an instant. At a day instant (--date D)
    with the observed price and default parameters it is read from the snapshot `ingest` stored, when that
    is fresh (`btcstress snapshots`); else computed. The last line and brief.json's `served` say which."""
    from btcstress import brief
    from btcstress.brief import render
    from btcstress.history import snapshots
    try:
        t = instant(as_of, date)
        writable_out(out)
        with spinner("computing the brief"), read_store(backend) as store:
            fs = snapshots.brief_findings(store, t, params=model_params(param), price=hypothetical_price(price))
        paths = render.write(brief.build(fs), out)
        console.print(f"brief as of {t:%Y-%m-%dT%H:%M}Z written to {paths['html']} (also {paths['md'].name}, "
                      f"{paths['json'].name})", highlight=False)
        console.print(f"findings: {fs.served}", highlight=False)
    except BtcstressError as exc:
        fail(exc)

