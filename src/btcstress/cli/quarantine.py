"""`btcstress quarantine`: the rows that failed validation."""

from __future__ import annotations

import sys

import typer
from rich.table import Table as RichTable

from btcstress.cli import app, console, fail, open_store
from btcstress.errors import BtcstressError


@app.command()
def quarantine(limit: int = typer.Option(50, help="Rows to show"),
               as_json: bool = typer.Option(False, "--json")):
    """Rows that failed validation, with file, line, field and reason."""
    try:
        with open_store(read_only=True) as store:
            q = store.table("quarantine").order_by(["file", "line"]).limit(limit).execute()
        if as_json:
            sys.stdout.write(q.to_json(orient="records", date_format="iso") + "\n")
            return
        t = RichTable(title="quarantine")
        for c in ("file", "line", "field", "value", "reason"):
            t.add_column(c, overflow="fold")
        for r in q.itertuples():
            t.add_row(r.file, str(r.line), r.field, str(r.value), r.reason)
        console.print(t)
    except BtcstressError as exc:
        fail(exc)

