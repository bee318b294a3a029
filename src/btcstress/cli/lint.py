"""`btcstress lint-brief`: build the brief for an instant and check it (src/btcstress/brief/lint.py)."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from btcstress.cli import AS_OF, DATE, app, console, fail, hypothetical_price, instant, open_store
from btcstress.errors import BtcstressError


@app.command("lint-brief")
def lint_brief(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE,
               price: Optional[float] = typer.Option(None, "--price", help="Hypothetical USD price"),
               as_json: bool = typer.Option(False, "--json")):
    """Check the brief, as `btcstress report` writes it, for false, empty or garbled statements; exit 1 when
    any rule fails. At a day instant it reads the snapshot `ingest` stored, when fresh (as `report` does)."""
    from btcstress.brief.lint import lint_at
    try:
        t = instant(as_of, date)
        with open_store(read_only=True) as store:
            _, failures = lint_at(store, t, price=hypothetical_price(price))
    except BtcstressError as exc:
        fail(exc)
        return
    if as_json:
        sys.stdout.write(json.dumps({"as_of": t.isoformat(), "failures": [f.__dict__ for f in failures]}) + "\n")
    elif failures:
        for f in failures:
            console.print(str(f), highlight=False, soft_wrap=True)
        console.print(f"{len(failures)} lint failure(s) in the brief as of {t:%Y-%m-%dT%H:%MZ}", highlight=False)
    else:
        console.print(f"brief as of {t:%Y-%m-%dT%H:%MZ}: no lint failures", highlight=False)
    if failures:
        raise typer.Exit(1)
