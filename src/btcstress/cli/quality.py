"""`btcstress quality`: stored values that parsed but that their neighbours or another source do not
support (src/btcstress/quality; docs/DATA.md, "Data quality")."""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.table import Table as RichTable

from btcstress.cli import app, console, fail, open_store
from btcstress.errors import BtcstressError, InputError


@app.command()
def quality(rule: Optional[str] = typer.Option(None, "--rule", help="Only this rule (see docs/DATA.md)"),
            since: Optional[str] = typer.Option(None, "--since", help="Only values on or after this UTC day"),
            until: Optional[str] = typer.Option(None, "--until", help="Only values on or before this UTC day"),
            limit: int = typer.Option(200, help="Rows to show"),
            as_json: bool = typer.Option(False, "--json")):
    """Suspect values: kept, flagged with the rule, the values compared and the reason."""
    import datetime as dt

    from btcstress.quality import RULES
    try:
        if rule is not None and rule not in RULES:
            raise InputError(f"unknown rule {rule!r}; known: {', '.join(sorted(RULES))}")
        with open_store(read_only=True) as store:
            q = store.table("quality")
            if rule:
                q = q.filter(q.rule == rule)
            for bound, op in ((since, "ge"), (until, "le")):
                if bound:
                    try:
                        day = dt.datetime.fromisoformat(bound)
                    except ValueError:
                        raise InputError(f"not a UTC day: {bound!r} (expected YYYY-MM-DD)") from None
                    q = q.filter(q.ts >= day if op == "ge" else q.ts <= day)
            total = int(q.count().execute())
            rows = q.order_by(["ts", "field", "rule"]).limit(limit).execute()
        if as_json:
            sys.stdout.write(rows.drop(columns=["ingested_at"]).to_json(orient="records", date_format="iso") + "\n")
            return
        t = RichTable(title=f"quality: {total} suspect values" + (f" (first {limit})" if total > limit else ""))
        for c in ("series", "time", "field", "value", "rule", "compared", "reason"):
            t.add_column(c, overflow="fold")
        for r in rows.itertuples():
            t.add_row(r.series, str(r.ts)[:16], r.field, f"{r.value:,.2f}", r.rule, r.compared or "", r.reason)
        console.print(t)
    except BtcstressError as exc:
        fail(exc)
