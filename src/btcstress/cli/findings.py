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
from btcstress.cli import (AS_OF, BACKEND, DATE, PARAM, PRICE, app, console, fail, hypothetical_price, instant,
                           read_store, state)
from btcstress.errors import BtcstressError


@app.command()
def findings(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE, price: Optional[float] = PRICE,
             ids: Optional[str] = typer.Option(None, "--ids", help="Comma-separated finding ids or prefixes"),
             param: list[str] = PARAM,
             as_json: bool = typer.Option(False, "--json", help="JSON array on stdout"),
             backend: Optional[str] = BACKEND):
    """The findings as of an instant, with their provenance."""
    from btcstress import metrics
    try:
        t = instant(as_of, date)
        with read_store(backend) as store:
            fs = metrics.compute(store, t, params=cfg.params(state.config, param), price=hypothetical_price(price))
        chosen = list(fs)
        if ids:
            want = [i.strip() for i in ids.split(",") if i.strip()]
            chosen = [f for f in chosen if any(f.id.startswith(w) for w in want)]
        if as_json:
            sys.stdout.write(json.dumps([f.model_dump(mode="json") for f in chosen], indent=2) + "\n")
            return
        print_findings(chosen, t)
    except BtcstressError as exc:
        fail(exc)


def print_findings(chosen, t: dt.datetime) -> None:
    from btcstress.brief.fmt import text
    table = RichTable(title=f"findings as of {t:%Y-%m-%d %H:%M}Z")
    for c in ("id", "subject", "value", "window", "kind", "sources"):
        table.add_column(c, overflow="fold")
    for f in chosen:
        value = f.note if f.value is None else text(f.value, f.unit)
        if f.hypothetical:
            value += " (hypothetical)"
        table.add_row(f.id, f.subject, value, f.window, f.kind, "; ".join(s.origin for s in f.sources))
    console.print(table)


@app.command()
def report(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE, price: Optional[float] = PRICE,
           out: Path = typer.Option(Path("out"), "--out", help="Folder for brief.md, brief.html, brief.json"),
           param: list[str] = PARAM, backend: Optional[str] = BACKEND):
    """Write the brief (Markdown, self-contained HTML, JSON) as of an instant."""
    from btcstress import brief, metrics
    from btcstress.brief import render
    try:
        t = instant(as_of, date)
        with read_store(backend) as store:
            fs = metrics.compute(store, t, params=cfg.params(state.config, param), price=hypothetical_price(price),
                                 with_series=True)
        paths = render.write(brief.build(fs), out)
        console.print(f"brief as of {t:%Y-%m-%dT%H:%M}Z written to {paths['html']} (also {paths['md'].name}, "
                      f"{paths['json'].name})", highlight=False)
    except BtcstressError as exc:
        fail(exc)

