"""`btcstress quarantine`: the rows that failed validation."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys

import typer
from rich.table import Table as RichTable
from rich.text import Text

from btcstress.cli import app, console, fail, open_store
from btcstress.errors import BtcstressError, InputError


@app.command()
def quarantine(limit: int = typer.Option(50, "--limit", help="Rows to show"),
               as_json: bool = typer.Option(False, "--json", help="JSON list on stdout (ISO timestamps with Z)")):
    """Rows that failed validation, with file, line, field and reason."""
    try:
        if limit < 0:
            raise InputError(f"--limit must be >= 0, got {limit}")
        with open_store(read_only=True) as store:
            q = store.table("quarantine").order_by(["file", "line"]).limit(limit).execute()
        if as_json:
            rows = [{k: _json_value(v) for k, v in r.items()} for r in q.to_dict(orient="records")]
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        t = RichTable(title="quarantine")
        for c in ("file", "line", "field", "value", "reason"):
            t.add_column(c, overflow="fold")
        for r in q.itertuples():  # Text: "close outside [low, high]" is data, not markup
            t.add_row(*(Text(str(x)) for x in (r.file, r.line, r.field, r.value, r.reason)))
        console.print(t)
    except BtcstressError as exc:
        fail(exc)



def _json_value(v):
    """Timestamps as ISO-8601 UTC with a Z (the store keeps naive UTC); NaN/NaT as null."""
    import pandas as pd
    from btcstress.findings import iso
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return iso(v.to_pydatetime())
    if isinstance(v, (dt.datetime, dt.date)):
        return iso(v)
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v
