"""History engine: every finding as a point-in-time series.

A finding's value at instant T in a history is what `metrics.compute(store, T)` says at T: the same
rows (available_at <= T), vintages, windows and z-scores. Two ways an area gets there:

**Series-first** (the protocol). An area module defines

    def history(hctx: HistoryContext) -> pandas.DataFrame

returning one row per (instant, finding) with exactly the columns `COLUMNS`:

    as_of       naive-UTC timestamp: the instant (one of hctx.instants)
    id          finding id ("price.close_usd")
    subject     as in the snapshot ("BTC", a fund, an entity)
    value       float: the numeric value; NaN when not available or not numeric
    value_text  str: the value when it is a date, a label or a list (lists as JSON); else None
    unit, window, kind   as in the snapshot (window "1d:2026-02-05", "24h", ...)
    note        "not available: ..." when not available (value and value_text null), else a caveat or None
    zscore, percentile   `Finding.unusual`'s fields when the snapshot gives them, else NaN

computed with a few set-based queries over the whole calendar (`hctx.calendar`, whole tables from
`hctx.table(name)` with their available_at, and `context.known_max`, the as-of primitive). Areas run
in registry order; a later area reads an earlier one's rows with `hctx.values(id, subject)` (the
price at every instant, as a snapshot reads `ctx.price()`). A history need not repeat the snapshot's
provenance detail (sources, detail dicts): `findings --as-of T` still gives that.

**Fallback** (`fallback.snapshot_rows`): an area with no `history` yet is evaluated as a snapshot at
each instant (with the price area before it), exactly, but one instant at a time. `compute` reports
which path each area took (`HistoryResult.paths`), and docs/PERFORMANCE.md times both.

The parity test (tests/history/test_parity.py) holds series-first histories equal to snapshots.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import pandas as pd

from btcstress.findings import Finding
from btcstress.history.context import HistoryContext, known_max, one_per

COLUMNS = ["as_of", "id", "subject", "value", "value_text", "unit", "window", "kind", "note", "zscore",
           "percentile"]
# Optional: a cited finding's citation as the snapshot gives it (JSON of method, params, sources, detail,
# unusual; `history.citations`), which finding_history keeps so a stored cited finding shows its source.
CITE = "cite"


@dataclass
class HistoryResult:
    rows: pd.DataFrame  # COLUMNS, sorted by as_of, then emission order
    paths: dict[str, str] = field(default_factory=dict)  # area -> "series" | "snapshot per instant"
    # area -> the tables its rows were computed from, with those of the areas it read (`reads_of`);
    # empty when the store does not say (a store without `reads`)
    tables: dict[str, frozenset[str]] = field(default_factory=dict)


@contextmanager
def reads_of(store) -> Iterator[set[str]]:
    """The canonical tables read through `store.table` within the block: a set, filled as they are read
    (every metric reads its rows through it). Nested blocks also count in the outer one."""
    outer = getattr(store, "reads", None)
    got: set[str] = set()
    store.reads = got
    try:
        yield got
    finally:
        store.reads = outer
        if outer is not None:
            outer |= got


def area_modules() -> list:
    """The metric area modules in order (the area registry's, btcstress.areas)."""
    from btcstress import metrics
    return metrics.modules()


def area_name(mod) -> str:
    """The registered area whose metrics module `mod` is."""
    from btcstress import areas
    return next(a.name for a in areas.all() if a.metrics == mod.__name__)


def series_first(mod) -> bool:
    return callable(getattr(mod, "history", None))


def compute(store, instants: list[dt.datetime], *, areas: tuple[str, ...] | None = None,
            params: dict[str, dict[str, Any]] | None = None, fallback: bool = True,
            reuse: dict | None = None) -> HistoryResult:
    """Every finding of `areas` (default all) at every instant. Areas with a `history` run set-based;
    the others are evaluated per instant (`fallback`), or left out when fallback is False.

    `reuse`: a dict the caller keeps across calls over the *same store state* (one `materialize.refresh`):
    an area's rows computed for one call are kept in it under (area, instants, params) and taken from
    it by a later call that needs the same area at the same instants, so the price area an incremental
    refresh reads for etf, treasuries and miners is computed once, not once per area."""
    from btcstress.history import fallback as fb
    from btcstress.history.calendar import data_range
    rng = data_range(store)
    # Instants a snapshot refuses (before the first bar, long after the last) have no findings.
    instants = [t for t in instants if rng and rng[0] <= _naive(t) <= rng[1]]
    hctx = HistoryContext(store=store, instants=instants, params=params or {})
    out, paths, tables = [], {}, {}
    wanted = set(areas) if areas else None
    mods = area_modules()
    needed = _with_dependencies(wanted, mods)
    for mod in mods:
        area = area_name(mod)
        if needed is not None and area not in needed:
            continue
        key = (area, tuple(hctx.instants), repr(sorted((params or {}).items())))
        if reuse is not None and key in reuse:
            df, paths[area], own = reuse[key]
        elif series_first(mod) or fallback:
            with reads_of(store) as got:
                if series_first(mod):
                    df = conform(mod.history(hctx))
                    paths[area] = "series"
                else:
                    df = fb.snapshot_rows(store, area, hctx.instants, params=params)
                    paths[area] = "snapshot per instant"
            own = frozenset(got)
        else:
            paths[area] = "skipped (no series-first path)"
            continue
        if reuse is not None:
            reuse[key] = (df, paths[area], own)
        # with the tables of the areas whose rows it read (hctx.rows): a change there changes its rows too
        deps = (_with_dependencies({area}, mods) or set()) - {area}
        tables[area] = own.union(*(tables.get(d, frozenset()) for d in deps))
        hctx.rows.append(df)
        if wanted is None or area in wanted:
            out.append(df)
    rows = pd.concat(out, ignore_index=True) if out else empty()
    rows = rows.sort_values("as_of", kind="stable", ignore_index=True)
    return HistoryResult(rows, paths, tables)


def _naive(t: dt.datetime) -> dt.datetime:
    from btcstress.store import utc_naive
    return utc_naive(t)


def _with_dependencies(wanted: set[str] | None, mods) -> set[str] | None:
    """Areas that read the price need the price area first (as in a snapshot). A series-first area
    says what it reads in HISTORY_NEEDS (default: the price); the fallback always runs the price."""
    if wanted is None:
        return None
    need = set(wanted)
    for mod in mods:
        if area_name(mod) in wanted:
            need |= set(getattr(mod, "HISTORY_NEEDS", ("price",)) if series_first(mod) else ())
    return need


def empty() -> pd.DataFrame:
    return conform(pd.DataFrame(columns=COLUMNS))


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """The protocol's columns and dtypes, nothing else (but `CITE`, for finding_history, when given)."""
    missing = [c for c in COLUMNS if c not in df.columns]
    for c in missing:
        df[c] = None
    df = df[COLUMNS + ([CITE] if CITE in df.columns else [])].copy()
    df["as_of"] = pd.to_datetime(df["as_of"]).astype("datetime64[us]")
    for c in ("value", "zscore", "percentile"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    for c in ("id", "subject", "value_text", "unit", "window", "kind", "note"):
        df[c] = df[c].astype("object").where(df[c].notna(), None)
    return df


def row_of(f: Finding, as_of: dt.datetime) -> dict[str, Any]:
    """One protocol row from a snapshot finding (the fallback and the parity test use it)."""
    v = f.value
    value, text = None, None
    if isinstance(v, bool):
        text = json.dumps(v)
    elif isinstance(v, (int, float)):
        value = float(v)
    elif isinstance(v, (list, dict)):
        text = json.dumps(v)
    elif v is not None:
        text = str(v)
    u = f.unusual or {}
    return {"as_of": as_of, "id": f.id, "subject": f.subject, "value": value, "value_text": text, "unit": f.unit,
            "window": f.window, "kind": f.kind, "note": f.note, "zscore": u.get("zscore"),
            "percentile": u.get("percentile")}


def cite_of(f: Finding) -> str | None:
    """A cited finding's citation (`CITE`): what a stored row needs to show it as the snapshot does."""
    if f.kind != "cited" or f.value is None:
        return None
    extra = {k: v for k, v in (f.unusual or {}).items() if k not in ("zscore", "percentile")}
    return json.dumps({"method": f.method, "params": f.params, "detail": f.detail,
                       "sources": [s.model_dump(mode="json") for s in f.sources], **({"unusual": extra} if extra else {})},
                      default=str)


def value_of(row) -> Any:
    """A protocol row's value as a snapshot finding would hold it (float, or the text/list)."""
    if row["value"] is not None and not pd.isna(row["value"]):
        return float(row["value"])
    t = row["value_text"]
    if t is None or (isinstance(t, float) and pd.isna(t)):
        return None
    if isinstance(t, str) and t[:1] in "[{" or t in ("true", "false"):
        return json.loads(t)
    return t


def load(mod_name: str):
    return importlib.import_module(mod_name)


__all__ = ["CITE", "COLUMNS", "HistoryContext", "HistoryResult", "cite_of", "compute", "conform", "known_max", "one_per",
           "row_of", "value_of"]
