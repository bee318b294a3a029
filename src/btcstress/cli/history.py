"""`btcstress history ID`: a finding's point-in-time series (every finding with --all); `btcstress snapshots`.

Each value is what `findings --as-of T` says at that instant. Served from `finding_history` when it
is fresh and the instants are on its grid, else computed; the footer says which (stderr).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table as RichTable

from btcstress import config as cfg
from btcstress.cli import app, console, err, fail, read_store
from btcstress.errors import BtcstressError, InputError


@app.command()
def history(finding: Optional[str] = typer.Argument(None, help="Finding id, e.g. price.close_usd"),
            all_: bool = typer.Option(False, "--all", help="Every finding"),
            subject: Optional[str] = typer.Option(None, "--subject", help="Only this subject (BTC, a fund, ...)"),
            start: Optional[str] = typer.Option(None, "--from", help="First instant or day [default: a year before --to]"),
            end: Optional[str] = typer.Option(None, "--to", help="Last instant or day [default: the end of the data]"),
            every: str = typer.Option("1d", "--every", help="Step: 1d (each day's end), 1h, 6h, 15m, 1w"),
            csv: Optional[Path] = typer.Option(None, "--csv", help="Write the rows to this CSV file"),
            parquet: Optional[Path] = typer.Option(None, "--parquet", help="Write the rows to this Parquet file"),
            as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON")):
    """A finding's history: its value at each instant, exactly as a snapshot at that instant says it."""
    from btcstress.history import serve
    from btcstress.history.calendar import data_range
    try:
        if bool(finding) == all_:
            raise InputError("give a finding id or --all (not both)")
        with read_store(None) as store:
            rng = data_range(store)
            if rng is None:
                raise InputError("the store holds no price data: run `btcstress ingest snapshot` first")
            t1 = _instant(end, rng[1] - dt.timedelta(days=2))
            t0 = _instant(start, t1 - dt.timedelta(days=365))
            ans = serve.answer(store, [finding] if finding else None, t0, t1, every, subject)
        rows = ans.rows
        if csv:
            rows.to_csv(csv, index=False)
        if parquet:
            rows.to_parquet(parquet, index=False)
        if as_json:
            typer.echo(json.dumps({"id": finding, "subject": subject, "every": every, "how": ans.how,
                                   "rows": _records(rows)}))
        elif not (csv or parquet):
            _print(rows, multi=bool(all_) or rows["subject"].nunique() > 1)
        else:
            console.print(f"{len(rows):,} rows written", highlight=False)
        err.print(f"[dim]{len(rows):,} rows; {ans.describe()}[/]", highlight=False)
    except BtcstressError as exc:
        fail(exc)


def _instant(text: Optional[str], default: dt.datetime) -> dt.datetime:
    """An instant; a bare day D means the end of D (as --date does), so `--from 2025-01-01 --every 1d`
    starts with day 2025-01-01's close."""
    return cfg.parse_instant(text) if text else default


def _records(rows) -> list[dict]:
    out = []
    for r in rows.to_dict("records"):
        r["as_of"] = r["as_of"].strftime("%Y-%m-%dT%H:%MZ")
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
    return out


def _print(rows, *, multi: bool) -> None:
    """An 80-column table: instant, (id, subject), value, window, z."""
    t = RichTable(show_lines=False, box=None, pad_edge=False)
    t.add_column("as of", no_wrap=True)
    if multi:
        t.add_column("finding", overflow="ellipsis", max_width=24, no_wrap=True)
        t.add_column("subject", overflow="ellipsis", max_width=10, no_wrap=True)
    t.add_column("value", justify="right", no_wrap=True)
    t.add_column("window", overflow="ellipsis", max_width=14 if multi else 24, no_wrap=True)
    t.add_column("z", justify="right", no_wrap=True)
    for r in rows.itertuples():
        value = _fmt(r.value, r.value_text, r.unit)
        z = "" if r.zscore is None or math.isnan(r.zscore) else f"{r.zscore:+.2f}"
        cells = [r.as_of.strftime("%Y-%m-%dT%H:%MZ")]
        if multi:
            cells += [r.id, r.subject]
        t.add_row(*cells, value, r.window, z)
    Console(width=80, highlight=False).print(t)


def _fmt(value, text, unit: str) -> str:
    if value is not None and not math.isnan(value):
        if unit == "pct":
            return f"{value:,.2f}%"
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
    if text:
        return text if len(text) <= 24 else text[:23] + "…"
    return "n/a"


@app.command()
def snapshots(start: Optional[str] = typer.Option(None, "--from", help="First day D (its instant D+1 07:00Z) or instant"),
              end: Optional[str] = typer.Option(None, "--to", help="Last day or instant [default: --from]")):
    """The whole snapshots the brief reads (finding_snapshots: every finding with its sources and detail,
    and the chart series). Without --from: list them and whether each is fresh. With --from/--to: store one
    at every day instant in the range that has no fresh one, so `report --date D`, GET /brief and
    lint-brief read it instead of computing. Cost: one whole computation with series per day (measured
    ~2 s CPU each around 2026-02) and ~125 KB of store each: 2018-2026 (3,022 days) is of the order of
    1.5 h CPU and 380 MB. `ingest` already keeps the newest 7 days."""
    from btcstress.cli import open_store
    from btcstress.history import snapshots as snap
    from btcstress.findings import iso
    try:
        if start is None:
            if end is not None:
                raise InputError("--to needs --from")
            with read_store(None) as store:
                rows = snap.stored(store)
                whys = snap.check_all(store, rows)
                for r in rows:
                    why = whys[r.as_of]
                    console.print(f"{iso(r.as_of)}  {r.stored_by:8}  {'fresh' if why is None else 'stale: ' + why}",
                                  highlight=False)
            err.print(f"[dim]{len(rows)} stored snapshots[/]", highlight=False)
            return
        t0 = cfg.parse_instant(start)
        t1 = cfg.parse_instant(end) if end else t0
        if t1 < t0:
            raise InputError("--to is before --from")
        with open_store() as store:
            done = snap.store_range(store, t0, t1, progress=lambda i, n, t: err.print(
                f"[dim]{i}/{n} {iso(t)}[/]", highlight=False))
        console.print(f"{done['stored']} snapshots stored ({done['cpu_s']:.1f} s CPU), {done['already']} were "
                      "already stored and fresh", highlight=False)
    except BtcstressError as exc:
        fail(exc)
