"""The command line: btcstress ingest | findings | report | quarantine ..."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table as RichTable

from btcstress import config as cfg
from btcstress.errors import BtcstressError, InputError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Bitcoin market stress from raw public data: findings with provenance, briefs.")
ingest_app = typer.Typer(no_args_is_help=True, help="Load data into the store.")
app.add_typer(ingest_app, name="ingest")

# Wide enough for tables when output is piped (Rich assumes 80 columns without a terminal).
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


class State:
    db: Optional[Path] = None
    config: dict = {}


state = State()


@app.callback()
def main(db: Optional[Path] = typer.Option(None, "--db", envvar="BTCSTRESS_DB",
                                           help="Store file [default: data/btcstress.duckdb]"),
         config: Optional[Path] = typer.Option(None, "--config", help="YAML config (params, sources)")):
    state.db = db
    state.config = cfg.load(config)


def _store(read_only: bool = False):
    from btcstress.store import Store
    return Store(state.db, read_only=read_only)


def _fail(exc: BtcstressError) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _as_of(as_of: Optional[str], date: Optional[str]) -> dt.datetime:
    if as_of and date:
        raise InputError("give --as-of or --date, not both")
    if date:
        return cfg.end_of_day(date)
    if as_of:
        return cfg.parse_instant(as_of)
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _price(price: Optional[float]) -> Optional[float]:
    if price is not None and not price > 0:
        raise InputError(f"--price must be a positive number of USD, got {price}")
    return price


AS_OF = typer.Option(None, "--as-of", help="UTC instant, e.g. 2026-02-06T08:00Z [default: now]")
DATE = typer.Option(None, "--date", help="As of the end of UTC day D (YYYY-MM-DD)")
PRICE = typer.Option(None, "--price", help="Re-value price-dependent findings at this hypothetical USD price")
PARAM = typer.Option([], "--param", help="Model parameter override AREA.NAME=VALUE (repeatable)")


@ingest_app.command("snapshot")
def ingest_snapshot(folder: Path = typer.Argument(Path("../shared/data"), help="Snapshot folder"),
                    allow_quarantine: bool = typer.Option(False, "--allow-quarantine",
                                                          help="Exit 0 even when rows were quarantined")):
    """Import every known file of a snapshot folder (idempotent: a second run adds nothing)."""
    from btcstress import ingest
    from btcstress.sources import snapshot
    try:
        if not folder.is_dir():
            raise InputError(f"snapshot folder {folder} not found")
        jobs, unknown = snapshot.plan(folder)
        with _store() as store:
            report = ingest.run(store, [ingest.events_job(), *jobs], allow_quarantine=True,
                                progress=lambda o: err.print(f"[dim]reading {o}[/]", highlight=False))
        _print_ingest(report, unknown)
        if report.quarantined and not allow_quarantine:
            err.print(f"[red]{report.summary()}[/]; rows were quarantined (see `btcstress quarantine`); "
                      "rerun with --allow-quarantine to accept", highlight=False)
            raise typer.Exit(1)
        console.print(report.summary(), highlight=False)
    except BtcstressError as exc:
        _fail(exc)


def _print_ingest(report, unknown: list[str]) -> None:
    t = RichTable(title="ingest", show_lines=False)
    for c in ("file", "table", "rows in", "new", "updated", "unchanged", "quarantined", "skipped"):
        t.add_column(c, justify="left" if c in ("file", "table") else "right")
    for f in report.files:
        t.add_row(f.file.removeprefix("snapshot/"), ",".join(f.targets), str(f.lines_in), str(f.result.new),
                  str(f.result.updated), str(f.result.unchanged), str(f.quarantined),
                  str(sum(f.skipped.values())))
    err.print(t)
    for f in report.files:  # why rows were skipped (not observations), so every line is accounted for
        for reason, n in f.skipped.items():
            err.print(f"[dim]{f.file}: {n} skipped: {reason}[/]", highlight=False)
    for u in unknown:
        err.print(f"[yellow]no importer for {u}: not read[/]", highlight=False)


@app.command()
def findings(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE, price: Optional[float] = PRICE,
             ids: Optional[str] = typer.Option(None, "--ids", help="Comma-separated finding ids or prefixes"),
             param: list[str] = PARAM,
             as_json: bool = typer.Option(False, "--json", help="JSON array on stdout")):
    """The findings as of an instant, with their provenance."""
    from btcstress import metrics
    try:
        t = _as_of(as_of, date)
        with _store(read_only=True) as store:
            fs = metrics.compute(store, t, params=cfg.params(state.config, param), price=_price(price))
        chosen = list(fs)
        if ids:
            want = [i.strip() for i in ids.split(",") if i.strip()]
            chosen = [f for f in chosen if any(f.id.startswith(w) for w in want)]
        if as_json:
            sys.stdout.write(json.dumps([f.model_dump(mode="json") for f in chosen], indent=2) + "\n")
            return
        _print_findings(chosen, t)
    except BtcstressError as exc:
        _fail(exc)


def _print_findings(chosen, t: dt.datetime) -> None:
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
           param: list[str] = PARAM):
    """Write the brief (Markdown, self-contained HTML, JSON) as of an instant."""
    from btcstress import brief, metrics
    from btcstress.brief import render
    try:
        t = _as_of(as_of, date)
        with _store(read_only=True) as store:
            fs = metrics.compute(store, t, params=cfg.params(state.config, param), price=_price(price),
                                 with_series=True)
        paths = render.write(brief.build(fs), out)
        console.print(f"brief as of {t:%Y-%m-%dT%H:%M}Z written to {paths['html']} (also {paths['md'].name}, "
                      f"{paths['json'].name})", highlight=False)
    except BtcstressError as exc:
        _fail(exc)


@app.command()
def quarantine(limit: int = typer.Option(50, help="Rows to show"),
               as_json: bool = typer.Option(False, "--json")):
    """Rows that failed validation, with file, line, field and reason."""
    try:
        with _store(read_only=True) as store:
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
        _fail(exc)


if __name__ == "__main__":
    app()
