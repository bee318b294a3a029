"""`btcstress ingest snapshot | etf | events`: files into the store (`ingest live` is in cli/live.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable

from btcstress import config as cfg
from btcstress.cli import console, err, fail, ingest_app, open_store, spinner, state
from btcstress.errors import BtcstressError, InputError

EVENT_VENUES = ("binance", "bybit", "okx")
ALLOW_REWRITE = typer.Option(False, "--allow-rewrite",
                             help="Accept a re-ingest that changes more than 1% of a file's stored rows "
                                  "(old values are kept in value_history)")


@ingest_app.command("snapshot")
def ingest_snapshot(folder: Path = typer.Argument(Path("../shared/data"), help="Snapshot folder"),
                    allow_quarantine: bool = typer.Option(False, "--allow-quarantine",
                                                          help="Exit 0 even when rows were quarantined"),
                    allow_rewrite: bool = ALLOW_REWRITE):
    """Import every known file of a snapshot folder (idempotent: a second run adds nothing)."""
    from btcstress import ingest
    from btcstress.parsers import snapshot
    try:
        if not folder.is_dir():
            raise InputError(f"snapshot folder {folder} not found")
        jobs, unknown = snapshot.plan(folder)
        # each file is logged as it is read (-v); a spinner on a terminal meanwhile
        with spinner(f"ingesting {len(jobs)} files"), open_store() as store:
            report = ingest.run(store, [ingest.events_job(), *jobs], allow_quarantine=True, allow_rewrite=allow_rewrite)
        finish_ingest(report, unknown, allow_quarantine, what="rows")
    except BtcstressError as exc:
        fail(exc)


def finish_ingest(report, unknown: list[str], allow_quarantine: bool, *, what: str = "rows",
                   table: bool = True) -> None:
    """Print the per-file table (not with -q) and the summary; exit 1 when rows were quarantined and not
    accepted."""
    if table and state.verbosity >= 0:
        print_ingest(report, unknown)
    if report.quarantined and not allow_quarantine:
        err.print(f"[red]{report.summary()}[/]; {what} were quarantined (see `btcstress quarantine`); "
                  "rerun with --allow-quarantine to accept", highlight=False)
        raise typer.Exit(1)
    console.print(report.summary(), highlight=False)


def print_ingest(report, unknown: list[str]) -> None:
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


@ingest_app.command("etf")
def ingest_etf(file: Path = typer.Argument(..., help="A Farside BTC ETF flow table: CSV, TSV or HTML (US$m)"),
               published_at: Optional[str] = typer.Option(
                   None, "--published-at",
                   help="When this version of the table was published (UTC instant): every day in the file "
                        "is stored as that vintage. Without it, each fund's flow counts from its usual publication time (or --delay-hours). [default: none]"),
               delay_hours: Optional[float] = typer.Option(
                   None, "--delay-hours",
                   help="Publication rule when --published-at is not given: every fund of a day counts from "
                        "00:00 UTC of its date + this. Default: each fund from its usual publication time "
                        "(etf_funds.csv publication_hours; IBIT later than the others) [default: per fund]"),
               allow_quarantine: bool = typer.Option(False, "--allow-quarantine",
                                                     help="Exit 0 even when rows were quarantined"),
               allow_rewrite: bool = ALLOW_REWRITE):
    """Import one vintage of the ETF flow table (idempotent per date, fund and vintage)."""
    from functools import partial

    from btcstress import ingest
    from btcstress.parsers import farside
    try:
        if not file.is_file():
            raise InputError(f"file {file} not found")
        if delay_hours is not None and not delay_hours >= 0:
            raise InputError(f"--delay-hours must be >= 0, got {delay_hours}")
        at = cfg.parse_instant(published_at) if published_at else None
        origin = f"file:{file.name}" + (f"@{at:%Y-%m-%dT%H:%MZ}" if at else "")
        delay = dt.timedelta(hours=delay_hours) if delay_hours is not None else None
        parser = partial(farside.parse, published_at=at, publication_delay=delay)
        with open_store() as store:
            report = ingest.run(store, [(file, origin, parser)], allow_quarantine=True, allow_rewrite=allow_rewrite)
        finish_ingest(report, [], allow_quarantine, what="rows")
    except BtcstressError as exc:
        fail(exc)


@ingest_app.command("events")
def ingest_events(file: Path = typer.Argument(..., help="Recorded feed: one raw websocket message per line (JSONL)"),
                  venue: str = typer.Option(..., "--venue", help="binance (USD-M forceOrder) | bybit | okx"),
                  allow_quarantine: bool = typer.Option(False, "--allow-quarantine",
                                                        help="Exit 0 even when messages were quarantined"),
                  allow_rewrite: bool = ALLOW_REWRITE):
    """Import recorded liquidation events (idempotent: replaying a file adds nothing)."""
    from btcstress import ingest
    from btcstress.parsers import binance_force_order, bybit_liquidation, okx_liquidation
    parsers = {"binance": binance_force_order.parse, "bybit": bybit_liquidation.parse, "okx": okx_liquidation.parse}
    try:
        if venue not in parsers:
            raise InputError(f"--venue {venue!r}: expected one of {', '.join(EVENT_VENUES)}")
        if not file.is_file():
            raise InputError(f"events file {file} not found")
        with open_store() as store:
            report = ingest.run(store, [(file, f"events/{venue}/{file.name}", parsers[venue])], allow_quarantine=True,
                                allow_rewrite=allow_rewrite)
        finish_ingest(report, [], allow_quarantine, what="messages")
    except BtcstressError as exc:
        fail(exc)

