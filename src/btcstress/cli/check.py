"""`btcstress check`: a story's figures against the findings (verdicts from btcstress.claims)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable

from btcstress import config as cfg
from btcstress.cli import AS_OF, BACKEND, DATE, PARAM, app, console, fail, instant, model_params, read_store, state
from btcstress.errors import BtcstressError, InputError


@app.command()
def check(claims_file: Path = typer.Argument(..., help="Claims CSV: claim_id,finding_id,subject,comparator,"
                                                         "value,unit,as_of,window,quote"),
          as_of: Optional[str] = AS_OF, date: Optional[str] = DATE, param: list[str] = PARAM,
          as_json: bool = typer.Option(False, "--json", help='JSON on stdout: {"verdicts": [...]}'),
          as_md: bool = typer.Option(False, "--md", help="Markdown table on stdout"),
          backend: Optional[str] = BACKEND):
    """Give each claim a verdict (supported / contradicted / unverifiable) with the computed value,
    the difference and the reason, from the data known at the as-of instant."""
    from btcstress import claims
    try:
        if as_json and as_md:
            raise InputError("give --json or --md, not both")
        t = instant(as_of, date)
        rows = claims.read(claims_file)
        with read_store(backend) as store:
            verdicts = claims.check(store, rows, t, params=model_params(param))
        if as_json:
            sys.stdout.write(json.dumps(claims.to_json(verdicts, t), indent=2) + "\n")
            return
        if as_md:
            sys.stdout.write(claims.to_markdown(verdicts, t))
            return
        _print_verdicts(verdicts, t)
    except BtcstressError as exc:
        fail(exc)


def _print_verdicts(verdicts, t: dt.datetime) -> None:
    from btcstress.claims import diff as _diff, show as _show
    colour = {"supported": "green", "contradicted": "red", "unverifiable": "yellow"}
    table = RichTable(title=f"claims checked as of {t:%Y-%m-%d %H:%M}Z", show_lines=True)
    for c, kw in (("claim", {}), ("finding", {"overflow": "fold"}), ("claimed", {"justify": "right"}),
                  ("computed", {"justify": "right"}), ("difference", {"justify": "right"}), ("verdict", {}),
                  ("reason", {"overflow": "fold", "ratio": 1})):
        table.add_column(c, **kw)
    for v in verdicts:
        table.add_row(v.claim_id, (v.finding or {}).get("id", ""), _show(v.claimed, v.unit), _show(v.computed, v.unit),
                      _diff(v), f"[{colour[v.verdict]}]{v.verdict}[/]", v.reason)
    console.print(table)
    n = {k: sum(v.verdict == k for v in verdicts) for k in colour}
    console.print(f"{n['supported']} supported, {n['contradicted']} contradicted, {n['unverifiable']} unverifiable",
                  highlight=False)

