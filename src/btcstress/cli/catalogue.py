"""`btcstress ids` and `btcstress params`: every finding id (unit, one-line definition) and every model
parameter (default, source), so nobody has to read docs/METRICS.md to know what to ask for."""

from __future__ import annotations

import json
import sys

import typer
from rich import box
from rich.table import Table as RichTable
from rich.text import Text

from btcstress.cli import app, console, fail, open_store, spinner
from btcstress.errors import BtcstressError


def id_rows() -> list[dict]:
    """Every id the metric code declares, with unit, kind, definition and subjects from the findings as of
    the latest data (computed twice: as observed, and re-valued at the observed price, which adds the
    scenario engine's ids)."""
    from btcstress import declared, envelope, metrics
    with open_store(read_only=True) as store:
        t = envelope.latest_data(store)
        fs = metrics.compute(store, t)
        last = fs.get("price.last_usd")
        priced = metrics.compute(store, t, price=last.value) if last is not None and last.value else []
    emitted = {r["id"]: r for r in envelope.id_catalogue([*fs, *priced])}
    rows = []
    for fid, area in declared.finding_ids().items():
        r = emitted.get(fid) or {"id": fid, "unit": "", "kind": "", "subjects": [],
                                 "definition": f"(not emitted as of the latest data, {t:%Y-%m-%d})"}
        rows.append({**r, "area": area})
    return rows


@app.command()
def ids(as_json: bool = typer.Option(False, "--json", help="JSON list on stdout")):
    """Every finding id: area, unit, kind and a one-line definition."""
    try:
        with spinner("reading the finding ids"):
            rows = id_rows()
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
