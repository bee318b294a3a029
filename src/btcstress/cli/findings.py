"""`btcstress findings` and `btcstress report`: the findings as of an instant, and the brief written from them."""

from __future__ import annotations

import datetime as dt
import json
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
             backend: Optional[str] = BACKEND):
    """The findings as of an instant, with their provenance."""
    from btcstress import envelope, metrics
    try:
        cols = list(COLUMNS) if wide else [c.strip() for c in columns.split(",") if c.strip()]
        bad = [c for c in cols if c not in COLUMNS]
        if bad:
            raise InputError("; ".join(f"unknown column {c!r}{envelope.did_you_mean(c, COLUMNS)}" for c in bad)
                             + f" (columns: {', '.join(COLUMNS)})")
        t = instant(as_of, date)
        p = hypothetical_price(price)
        with spinner("computing findings"), read_store(backend) as store:
            fs = metrics.compute(store, t, params=model_params(param), price=p)
        chosen = envelope.select(fs, ids, subject)
        log.info("%d findings as of %s, %d shown", len(fs), fs.as_of, len(chosen))
        if as_json:
            body = envelope.findings_envelope(fs, chosen, price=p, basis=state.as_of_basis)
            sys.stdout.write(json.dumps(body, indent=2) + "\n")
            return
        print_findings(chosen, fs.as_of, cols)
    except BtcstressError as exc:
        fail(exc)


def stale_since(f, t: dt.datetime) -> Optional[dt.date]:
    """The date of a finding's newest source row when that is more than STALE_AFTER before as-of."""
    lasts = [s.last for s in f.sources if s.last is not None]
    if not lasts or f.value is None:
        return None
    newest = max(x if x.tzinfo else x.replace(tzinfo=dt.timezone.utc) for x in lasts)
    return newest.date() if t - newest > STALE_AFTER else None


def print_findings(chosen, t: dt.datetime, cols: Optional[list[str]] = None) -> None:
    """A compact table that fits the terminal (or COLUMNS): ids never split, notes cut with an ellipsis."""
    from rich import box
    from rich.text import Text

    from btcstress.findings import iso
    cols = cols or DEFAULT_COLUMNS.split(",")
    t = t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
    table = RichTable(title=f"findings as of {iso(t)}", box=box.SIMPLE_HEAD, pad_edge=False, padding=0,
                      title_justify="left")
    rows = [_cells(f, t) for f in chosen]
    longest = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in cols}
    # Widths set here, not left to Rich (which drops whole columns when squeezed): ids whole, subject, value
    # and window capped (ellipsis), the note (or the sources) takes what is left of the terminal's width.
    caps = {"subject": 9, "value": 18, "window": 13, "unit": 8, "kind": 10, "as_of": 20, "id": 40}
    widths = {c: min(longest[c], caps[c]) for c in cols if c not in ("note", "sources")}
    flexible = [c for c in cols if c in ("note", "sources")]
    room = console.width - 2 - len(cols)  # the table's two edges and one cell edge per column (Rich's layout)
    for c in ("window", "subject", "value"):  # squeeze these (to 8) before the note drops under 4
        while c in widths and widths[c] > 8 and room - sum(widths.values()) < 3 * len(flexible):
            widths[c] -= 1
    spare = room - sum(widths.values())
    for c in flexible:
        widths[c] = max(3, min(longest[c], spare // len(flexible)))
    for c in cols:
        wrap = c == "sources"
        table.add_column(c, width=widths[c] + 1, no_wrap=not wrap, overflow="fold" if wrap else "ellipsis")
    for r in rows:
        table.add_row(*[Text(r[c]) for c in cols])  # Text: data is never read as markup
    console.print(table)


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
    """Write the brief (Markdown, self-contained HTML, JSON) as of an instant."""
    from btcstress import brief, metrics
    from btcstress.brief import render
    try:
        t = instant(as_of, date)
        writable_out(out)
        with spinner("computing the brief"), read_store(backend) as store:
            fs = metrics.compute(store, t, params=model_params(param), price=hypothetical_price(price),
                                 with_series=True)
        paths = render.write(brief.build(fs), out)
        console.print(f"brief as of {t:%Y-%m-%dT%H:%M}Z written to {paths['html']} (also {paths['md'].name}, "
                      f"{paths['json'].name})", highlight=False)
    except BtcstressError as exc:
        fail(exc)

