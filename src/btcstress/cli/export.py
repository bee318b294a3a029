"""`btcstress export parquet`: the Parquet warehouse `--backend spark` reads."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable

from btcstress.cli import app, console, err, fail, open_store, state
from btcstress.errors import BtcstressError, InputError

export_app = typer.Typer(no_args_is_help=True, help="Write the store out for other engines.")
app.add_typer(export_app, name="export")


@export_app.command("parquet")
def export_parquet(folder: Optional[Path] = typer.Argument(
        None, help="Warehouse folder [default: config spark.warehouse, BTCSTRESS_WAREHOUSE, else data/warehouse]")):
    """Write every canonical table as Parquet partitioned by month (FOLDER/<table>/month=YYYY-MM/),
    the warehouse `--backend spark` reads."""
    from btcstress import backends
    try:
        target = folder or backends.settings(state.config, "duckdb").warehouse
        if target.exists() and not target.is_dir():
            raise InputError(f"{target} exists and is not a folder")
        with open_store(read_only=True) as store:
            res = backends.export_parquet(store, target)
        t = RichTable(title=f"exported to {res.path}")
        t.add_column("table")
        t.add_column("rows", justify="right")
        for name, n in res.tables.items():
            t.add_row(name, f"{n:,}")
        err.print(t)
        console.print(f"{sum(res.tables.values()):,} rows in {len(res.tables)} tables written to {res.path}",
                      highlight=False)
    except BtcstressError as exc:
        fail(exc)

