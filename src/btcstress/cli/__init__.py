"""The command line: btcstress ingest | findings | report | check | scenario | monitor | serve ...

This package holds the Typer `app` (the console script `btcstress = "btcstress.cli:app"`), the
options every command shares (--as-of, --date, --price, --param, --backend) and the helpers they
use (opening the store, failing with a typed error's exit code). Each command group is a module
of its own that adds its commands to `app` (or to `ingest_app`) when imported; the registration
list at the bottom imports them in the order `--help` lists them.

Adding a command group: write `cli/<group>.py` (`from btcstress.cli import app, fail, ...`;
`@app.command()`), then add its name to `COMMAND_GROUPS` below. Nothing else changes.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

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
    """What the global options (--db, --config) set for the command that runs."""
    db: Optional[Path] = None
    config: dict = {}


state = State()


@app.callback()
def main(db: Optional[Path] = typer.Option(None, "--db", envvar="BTCSTRESS_DB",
                                           help="Store file [default: data/btcstress.duckdb]"),
         config: Optional[Path] = typer.Option(None, "--config", help="YAML config (params, sources)")):
    state.db = db
    try:
        state.config = cfg.load(config)
    except BtcstressError as exc:
        fail(exc)


def writable_out(out: Path, what: str = "--out") -> Path:
    """A folder a command may write into: refused (exit 2) when it is an existing file or cannot be
    created or written, before any work is done."""
    import os
    if out.exists() and not out.is_dir():
        raise InputError(f"{what} {out} is an existing file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{what} {out}: cannot create it ({exc.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"{what} {out}: not writable")
    return out


def open_store(read_only: bool = False):
    """The DuckDB store (--db) for writing or, with read_only, for reading."""
    from btcstress.store import Store
    return Store(state.db, read_only=read_only)


def read_store(backend: Optional[str]):
    """The read side for --backend (see btcstress.backends): use as `with read_store(backend) as store:`."""
    from btcstress import backends
    return backends.open_read_store(state.db, state.config, backend)


def fail(exc: BtcstressError) -> None:
    """Print a typed error and exit with its code (2 for a bad question)."""
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def instant(as_of: Optional[str], date: Optional[str]) -> dt.datetime:
    """The instant a command asks about: --as-of T, or --date D (the end of day D), else now."""
    if as_of and date:
        raise InputError("give --as-of or --date, not both")
    if date:
        return cfg.end_of_day(date)
    if as_of:
        return cfg.parse_instant(as_of)
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def hypothetical_price(price: Optional[float]) -> Optional[float]:
    """--price, checked: a positive number of USD, or None."""
    if price is not None and not price > 0:
        raise InputError(f"--price must be a positive number of USD, got {price}")
    return price


AS_OF = typer.Option(None, "--as-of", help="UTC instant, e.g. 2026-02-06T08:00Z [default: now]")
DATE = typer.Option(None, "--date", help="As of the end of UTC day D (YYYY-MM-DD)")
PRICE = typer.Option(None, "--price", help="Re-value price-dependent findings at this hypothetical USD price")
PARAM = typer.Option([], "--param", help="Model parameter override AREA.NAME=VALUE (repeatable)")
BACKEND = typer.Option(None, "--backend", envvar="BTCSTRESS_BACKEND",
                       help="Engine: duckdb (the store file) or spark (the Parquet warehouse of `export parquet`) "
                            "[default: config `backend:`, else duckdb]")

# The command groups, in the order `btcstress --help` lists their commands. One line per group.
COMMAND_GROUPS = (
    "ingest",      # ingest snapshot | etf | events
    "findings",    # findings, report
    "lint",        # lint-brief
    "quarantine",  # quarantine
    "quality",     # quality (suspect values)
    "cite",        # cite add | import | list
    "check",       # check (claims)
    "live",        # ingest live, monitor
    "serve",       # serve (API + dashboard)
    "mcp",         # mcp (the agent interface)
    "scenario",    # scenario
    "stress",      # stress, episodes
    "history",     # history (a finding's point-in-time series)
    "export",      # export parquet
)
for _group in COMMAND_GROUPS:
    importlib.import_module(f"{__name__}.{_group}")  # a group that fails to import fails the CLI, loudly

__all__ = ["writable_out", "app", "ingest_app", "state", "console", "err", "open_store", "read_store", "fail", "instant",
           "hypothetical_price", "AS_OF", "DATE", "PRICE", "PARAM", "BACKEND", "COMMAND_GROUPS"]
