"""`btcstress ids` and `btcstress params`: every finding id (unit, one-line definition) and every model
parameter (default, source), so nobody has to read docs/METRICS.md to know what to ask for."""

from __future__ import annotations

import json
import sys

import typer
from rich import box
from rich.table import Table as RichTable
from rich.text import Text

from btcstress.cli import app, console, fail
from btcstress.errors import BtcstressError


@app.command()
def ids(as_json: bool = typer.Option(False, "--json", help="JSON list on stdout")):
    """Every finding id: area, unit, kind and a one-line definition."""
    try:
        from btcstress import areas
        rows = areas.catalogue_rows()
        if as_json:
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        t = RichTable(title=f"{len(rows)} finding ids", box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
        t.add_column("id", no_wrap=True)
        t.add_column("unit", no_wrap=True)
        t.add_column("definition", overflow="fold", ratio=1)
        for r in rows:
            t.add_row(Text(r["id"]), Text(r["unit"]), Text(r["definition"]))
        console.print(t)
    except BtcstressError as exc:
        fail(exc)


@app.command()
def params(as_json: bool = typer.Option(False, "--json", help="JSON list on stdout")):
    """Every model parameter: default and the source it is taken from (override with --param AREA.NAME=VALUE)."""
    from btcstress import declared
    rows = [dict(p) for p in declared.catalogue()]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    t = RichTable(title=f"{len(rows)} parameters (--param AREA.NAME=VALUE)", box=box.SIMPLE_HEAD,
                  title_justify="left", pad_edge=False)
    t.add_column("parameter", no_wrap=True)
    t.add_column("default", overflow="fold", max_width=24)
    t.add_column("source", overflow="fold", ratio=1)
    for r in rows:
        default = json.dumps(r["default"], default=str)
        t.add_row(Text(f"{r['area']}.{r['name']}"), Text(default if len(default) <= 60 else default[:59] + "…"),
                  Text(r["source"]))
    console.print(t)
