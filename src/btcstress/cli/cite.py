"""`btcstress cite add | import | list`: figures reported by others, shown as kind=cited findings."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable

from btcstress.cli import app, console, fail, open_store
from btcstress.cli.ingest import finish_ingest
from btcstress.errors import BtcstressError, InputError

cite_app = typer.Typer(no_args_is_help=True, help="Figures reported by others, shown as kind=cited findings.")
app.add_typer(cite_app, name="cite")


@cite_app.command("add")
def cite_add(finding: str = typer.Option(..., "--finding", help="Finding id, e.g. liquidations.total_usd"),
             subject: str = typer.Option(..., "--subject", help="What the figure is about, as the source says "
                                                                "(e.g. crypto, BTC, BTCUSDT)"),
             value: str = typer.Option(..., "--value", help="The number as reported, e.g. 2.65e9"),
             unit: Optional[str] = typer.Option(None, "--unit", help="USD, pct, ... [default: none]"),
             as_of: str = typer.Option(..., "--as-of", help="UTC instant the figure is for / was published"),
             window: Optional[str] = typer.Option(None, "--window", help="e.g. 24h [default: none]"),
             source_: str = typer.Option(..., "--source", help="Who reported it"),
             url: Optional[str] = typer.Option(None, "--url", help="Where [default: none]"),
             note: Optional[str] = typer.Option(None, "--note", help="Coverage, caveats [default: none]")):
    """Record one figure reported by someone else."""
    from btcstress import ingest
    from btcstress.parsers import citations
    try:
        parsed = citations.single({"finding": finding, "subject": subject, "value": value, "unit": unit,
                                   "as_of": as_of, "window": window, "source": source_, "url": url, "note": note})
        with open_store() as store:
            ingest.run(store, [(None, "cite:cli", parsed)])
        console.print(f"cited {finding} ({subject}) = {value} {unit or ''} from {source_}", highlight=False)
    except BtcstressError as exc:
        fail(exc)


@cite_app.command("import")
def cite_import(file: Path = typer.Argument(..., help="CSV: finding,subject,value,unit,as_of,window,source,url,note"),
                allow_quarantine: bool = typer.Option(False, "--allow-quarantine")):
    """Record cited figures from a CSV file."""
    from btcstress import ingest
    from btcstress.parsers import citations
    try:
        if not file.is_file():
            raise InputError(f"citations file {file} not found")
        with open_store() as store:
            report = ingest.run(store, [(file, f"cite:{file.name}", citations.parse)], allow_quarantine=True)
        finish_ingest(report, [], allow_quarantine, table=False)
    except BtcstressError as exc:
        fail(exc)


@cite_app.command("list")
def cite_list(as_json: bool = typer.Option(False, "--json")):
    """The cited figures in the store."""
    try:
        with open_store(read_only=True) as store:
            q = store.table("citations").order_by(["as_of", "finding_id"]).execute()
        if as_json:
            sys.stdout.write(q.drop(columns=["ingested_at"]).to_json(orient="records", date_format="iso") + "\n")
            return
        t = RichTable(title="citations")
        for c in ("finding_id", "subject", "value", "unit", "as_of", "window", "source"):
            t.add_column(c, overflow="fold")
        for r in q.itertuples():
            t.add_row(r.finding_id, r.subject, f"{r.value:,.6g}", r.unit or "", f"{r.as_of:%Y-%m-%d %H:%M}Z",
                      r.window or "", r.source)
        console.print(t)
    except BtcstressError as exc:
        fail(exc)

