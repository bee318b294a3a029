"""`btcstress stress` and `btcstress episodes`: the stress index as of an instant, and the past days most
like it with what came next (docs/METRICS.md#stress). Both print findings only."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer
from rich.table import Table as RichTable

from btcstress import config as cfg
from btcstress.cli import AS_OF, BACKEND, DATE, PARAM, app, console, fail, instant, read_store, state
from btcstress.details import Episode, ForwardReturns, StressIndex
from btcstress.errors import BtcstressError

JSON = typer.Option(False, "--json", help="The findings as a JSON array on stdout")


def _z(v) -> str:
    return "n/a" if v is None else f"{v:+.2f}"


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:+.1f}%"


@app.command()
def stress(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE, param: list[str] = PARAM,
           as_json: bool = JSON, backend: Optional[str] = BACKEND):
    """The stress index as of an instant: its value, the forces' components and their contributions."""
    from btcstress import metrics
    from btcstress.stress.components import FORCE_NAMES, FORCES
    try:
        t = instant(as_of, date)
        with read_store(backend) as store:
            fs = metrics.compute(store, t, params=cfg.params(state.config, param), areas=("stress",))
    except BtcstressError as exc:
        fail(exc)
    found = [f for f in fs if f.id.startswith("stress.")]
    if as_json:
        sys.stdout.write(json.dumps([f.model_dump(mode="json") for f in found], indent=2) + "\n")
        return
    index = fs.get("stress.index")
    d = StressIndex.of(index)
    head = (f"stress index {_z(index.value)} ({d.n_components} of {len(FORCES)} forces, "
            f"{index.window}) as of {t:%Y-%m-%dT%H:%M}Z" if index.value is not None
            else f"stress index as of {t:%Y-%m-%dT%H:%M}Z: {index.note}")
    console.print(head, highlight=False)
    table = RichTable(show_edge=False)
    for c, j in (("force", "left"), ("component", "right"), ("contribution", "right"), ("day", "left")):
        table.add_column(c, justify=j)
    for force in FORCES:
        comp = fs.get(f"stress.component.{force}")
        day = comp.window.rsplit(":", 1)[-1] if comp.value is not None else (comp.note or "")[:40]
        table.add_row(FORCE_NAMES[force], _z(comp.value), _z(d.contributions.get(force)), day)
    console.print(table)
    if index.note and index.value is not None:
        console.print(index.note, style="dim", highlight=False)


@app.command()
def episodes(as_of: Optional[str] = AS_OF, date: Optional[str] = DATE,
             top: int = typer.Option(5, "--top", min=1, max=50, help="How many episodes"),
             param: list[str] = PARAM, as_json: bool = JSON, backend: Optional[str] = BACKEND):
    """The past days most like this instant (nearest in stress-component space, one per episode), and the
    BTC returns 1, 7 and 30 days after each, where known by the instant."""
    from btcstress.metrics import Context
    from btcstress.metrics import stress as area
    try:
        t = instant(as_of, date)
        params = cfg.params(state.config, param)
        with read_store(backend) as store:
            ctx = Context(store=store, as_of=t, params=params)
            ctx.require_data()
            p = ctx.area_params("stress", area.DEFAULTS)
            found = area.episodes(store, t, p, k=top)
    except BtcstressError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(json.dumps([f.model_dump(mode="json") for f in found], indent=2) + "\n")
        return
    eps = [f for f in found if f.id == "stress.episode"]
    if not eps or eps[0].value is None:
        console.print(f"episodes as of {t:%Y-%m-%dT%H:%M}Z: {eps[0].note if eps else 'none'}", highlight=False)
        return
    table = RichTable(title=f"past days most like {t:%Y-%m-%dT%H:%M}Z", show_edge=False)
    for c in ("#", "day", "index", "dist", "that day", "+1d", "+7d", "+30d"):
        table.add_column(c, justify="left" if c == "day" else "right")
    for e in eps:
        ep = Episode.of(e)
        cells = [_pct(ep.forward[h].value) if ep.forward[h].value is not None else "not known yet"
                 for h in ("1d", "7d", "30d")]
        table.add_row(str(ep.rank), e.value, _z(ep.index), f"{ep.distance:.2f}",
                      _pct(ep.headline.value if ep.headline is not None else None), *cells)
    medians, ranges = [], []
    for h in ("1d", "7d", "30d"):
        f = next((x for x in found if x.id == "stress.episodes.forward_return_pct" and x.window == h), None)
        known = f is not None and f.value is not None
        medians.append(_pct(f.value) if known else "not known yet")
        span = ForwardReturns.of(f) if known else None
        ranges.append(f"{h} {_pct(span.min)}..{_pct(span.max)}" if span is not None else f"{h} not known yet")
    table.add_row("", "median", "", "", "", *medians)
    console.print(table)
    console.print("range: " + "; ".join(ranges), highlight=False)
