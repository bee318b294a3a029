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
import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from btcstress import config as cfg
from btcstress.errors import BtcstressError, InputError

# Rich markup is off for help text (rich_markup_mode=None): "[default: now]" and "[low, high]" are text,
# not markup. Shell completion is Typer's own (--install-completion / --show-completion).
app = typer.Typer(add_completion=True, no_args_is_help=True, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Bitcoin market stress from raw public data: findings with provenance, briefs.")
ingest_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Load data into the store.")
app.add_typer(ingest_app, name="ingest")

# Width from the terminal, else COLUMNS, else 80 (Rich's rules). Data printed through these consoles is
# passed as Text or escaped: a quarantine reason such as "close outside [low, high]" prints as is.
console = Console()
err = Console(stderr=True)
log = logging.getLogger("btcstress")


class State:
    """What the global options (--db, --config) set for the command that runs."""
    db: Optional[Path] = None
    config: dict = {}
    verbosity: int = 0  # -1 quiet, 0 default, 1 -v, 2 -vv
    as_of_basis: str = "given"  # or "latest data" when no --as-of/--date was given


state = State()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version
        try:
            v = version("btcstress")
        except PackageNotFoundError:
            v = "unknown (not installed)"
        typer.echo(f"btcstress {v}")
        raise typer.Exit()


def setup_logging(verbose: int, quiet: bool) -> int:
    """Log records to stderr: warnings by default, -v info, -vv debug, -q errors only."""
    level = logging.ERROR if quiet else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ")
    logging.Formatter.converter = __import__("time").gmtime  # log times in UTC, like every other instant
    for noisy in ("httpx", "httpcore", "websockets", "mcp", "pyrate_limiter"):  # libraries speak at -vv only
        logging.getLogger(noisy).setLevel(level if verbose >= 2 else max(level, logging.WARNING))
    return level


@app.callback()
def main(db: Optional[Path] = typer.Option(None, "--db", envvar="BTCSTRESS_DB",
                                           help="Store file [default: data/btcstress.duckdb]"),
         config: Optional[Path] = typer.Option(None, "--config", envvar="BTCSTRESS_CONFIG",
                                               help="YAML config (params, sources) [default: ./btcstress.yaml "
                                                    "when present]"),
         verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log output on stderr (-vv: debug)"),
         quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors on stderr"),
         version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit")):
    state.db = db
    state.verbosity = -1 if quiet else verbose
    state.as_of_basis = "given"  # until instant() finds no --as-of (one process may run several commands)
    import os
    if os.environ.get("COLUMNS", "").isdigit():  # Rich reads COLUMNS once, when a console is made
        console.width = err.width = int(os.environ["COLUMNS"])
    setup_logging(verbose, quiet)
    try:
        state.config = cfg.load(config)
        from btcstress import areas
        areas.all()  # a missing or broken area fails every command at start, before any store is opened
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
    """The instant a command asks about: --as-of T, or --date D (the end of day D), else the latest
    data in the store (said on stderr: "now" is as far as the data goes, not the wall clock)."""
    if as_of and date:
        raise InputError("give --as-of or --date, not both")
    if date:
        return cfg.end_of_day(date)
    if as_of:
        return cfg.parse_instant(as_of)
    from btcstress import envelope
    with open_store(read_only=True) as store:
        t = envelope.latest_data(store)
    state.as_of_basis = envelope.LATEST
    if state.verbosity >= 0:
        err.print(f"as of the latest data: {t:%Y-%m-%dT%H:%M:%S}Z (give --as-of for another instant)",
                  highlight=False, markup=False)
    return t


def model_params(overrides: list[str]) -> dict:
    """The config's params with --param overrides, refusing unknown areas and names (nearest suggested)."""
    from btcstress import declared
    params = cfg.params(state.config, overrides)
    declared.check(params)
    return params


def spinner(what: str):
    """A spinner on stderr while something slow runs; nothing when stderr is not a terminal or -q."""
    import contextlib
    if state.verbosity < 0 or not err.is_terminal:
        return contextlib.nullcontext()
    return err.status(what, spinner="dots")


def hypothetical_price(price: Optional[float]) -> Optional[float]:
    """--price, checked: a positive number of USD, or None."""
    if price is not None and not price > 0:
        raise InputError(f"--price must be a positive number of USD, got {price}")
    return price


AS_OF = typer.Option(None, "--as-of", help="UTC instant, e.g. 2026-02-06T08:00Z [default: the latest data in the "
                                           "store]")
DATE = typer.Option(None, "--date", help="As of the end of UTC day D (YYYY-MM-DD) [default: none]")
PRICE = typer.Option(None, "--price", help="Re-value price-dependent findings at this hypothetical USD price "
                                           "[default: the observed price]")
PARAM = typer.Option([], "--param", help="Model parameter override AREA.NAME=VALUE (repeatable; `btcstress params` "
                                         "lists them) [default: none]")
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
    "catalogue",   # ids, params
    "scenario",    # scenario
    "stress",      # stress, episodes
    "history",     # history (a finding's point-in-time series)
    "export",      # export parquet
)
for _group in COMMAND_GROUPS:
    importlib.import_module(f"{__name__}.{_group}")  # a group that fails to import fails the CLI, loudly

__all__ = ["writable_out", "app", "ingest_app", "state", "console", "err", "open_store", "read_store", "fail",
           "instant", "hypothetical_price", "model_params", "spinner", "log", "AS_OF", "DATE", "PRICE", "PARAM",
           "BACKEND", "COMMAND_GROUPS"]
