"""All findings as of one instant, served from `finding_history` where it may be, computed where not.

What `findings --as-of T`, GET /findings, the dashboard's as-of step and the Python API's `findings`
answer with. Per area, one of two ways, and the answer says which (`Served.how`, the envelope's
`served`), so a stored value is never passed off as freshly derived and a stale store never served:

- **stored**: the area is materialised, its materialisation is fresh (same code version, nothing
  ingested since: `materialize.fresh_areas`), T is on the grid and inside what was built, and the
  question is the plain one (observed price, default parameters, no `derive`). Its findings are the
  stored rows at T (values, units, windows, notes, z-scores equal to the snapshot's: the parity
  tests) with the provenance a stored row has: the finding catalogue's definition as `method`, one
  source, the `finding_history` row itself (rows=1, code version and watermark in `origin`), and
  `detail.served` saying so. The row-level derivation (the source tables' rows, the detail dict) is
  not stored: `--derive` / `?derive=true` computes it.
- **computed**: everything else, with `metrics.compute` itself, for the areas not served plus every
  area they read (`Area.reads`: a later area reads an earlier one's findings, their detail and
  sources, so those are computed too, never stood in for by stored rows); only the asked areas'
  findings are kept from it.

Chart series and the brief's detail dicts are not in `finding_history`: a question with series
(`with_series`) computes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from btcstress import areas as registry
from btcstress.errors import NoDataError
from btcstress.findings import Finding, FindingSet, Source, iso
from btcstress.store import utc_naive

DERIVE_HINT = "the row-level derivation (sources, detail): btcstress findings --derive, GET /findings?derive=true"


@dataclass
class Served:
    fs: FindingSet
    how: dict[str, str] = field(default_factory=dict)  # area -> "stored (...)" | "computed (why)"


def findings_at(store, as_of: dt.datetime, *, params: dict[str, dict[str, Any]] | None = None,
                price: float | None = None, derive: bool = False, with_series: bool = False,
                areas: tuple[str, ...] | None = None, computed: FindingSet | None = None) -> Served:
    """The findings of `areas` (default: all) as of `as_of`, each area stored or computed (see the module).
    `computed`: an already computed FindingSet for the same question to take the computed areas from
    (the API's cached computation with series); else they are computed here."""
    wanted = tuple(a for a in registry.names() if areas is None or a in areas)
    t = utc_naive(as_of)
    stored, why_not = stored_areas(store, as_of, wanted, params=params, price=price, derive=derive,
                                   with_series=with_series)
    todo = [a for a in wanted if a not in stored]
    if todo and computed is None:
        from btcstress import metrics
        computed = metrics.compute(store, as_of, params=params, price=price, areas=registry.closure(todo),
                                   with_series=with_series)
    return merge(store, t, wanted, stored, why_not, computed)


def stored_areas(store, as_of: dt.datetime, wanted: tuple[str, ...], *, params=None, price=None, derive=False,
                 with_series=False) -> tuple[dict[str, str], dict[str, str]]:
    """({area: watermark} the store may answer, {area: why it must be computed})."""
    why = why_compute(params, price, derive, with_series)
    if why is not None:
        return {}, {a: why for a in wanted}
    return _servable(store, utc_naive(as_of), wanted)


def merge(store, t: dt.datetime, wanted: tuple[str, ...], stored: dict[str, str], why_not: dict[str, str],
          computed: FindingSet | None) -> Served:
    """The stored areas' rows at t and the other areas' findings from `computed`, in registry order."""
    how: dict[str, str] = {}
    by_area: dict[str, list[Finding]] = {}
    as_of = t.replace(tzinfo=dt.timezone.utc)
    if stored:
        rows = _rows(store, t, tuple(stored))
        for a, mark in stored.items():
            by_area[a] = [_finding(r, as_of, mark) for r in rows.get(a, [])]
            how[a] = f"stored (finding_history, fresh through {mark})"
    for a in wanted:
        if a not in stored:
            prefixes = registry.get(a).prefixes
            by_area[a] = [f for f in computed if f.id.split(".", 1)[0] in prefixes]
            how[a] = f"computed ({why_not[a]})"
    out = [f for a in wanted for f in by_area.get(a, [])]
    series, used = (computed.series, computed.params) if computed is not None else ({}, {})
    return Served(FindingSet(as_of, out, series, used), how)


def areas_for(ids: list[str] | None) -> tuple[str, ...] | None:
    """The areas that emit the ids or id prefixes asked for (None: all)."""
    if not ids:
        return None
    found = {a.name for i in ids for a in [registry.of_finding(i)] if a is not None}
    return tuple(n for n in registry.names() if n in found)


def why_compute(params, price, derive, with_series) -> str | None:
    """Why the whole question must be computed, or None when stored rows may answer it."""
    if derive:
        return "derive asked"
    if price is not None:
        return "hypothetical price"
    if any(params.values()) if params else False:
        return "parameters other than the defaults"
    if with_series:
        return "chart series asked"
    return None


def _servable(store, t: dt.datetime, wanted: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """({area: watermark it is fresh through} for the areas stored rows may answer at t,
    {area: why not} for the others)."""
    from btcstress.history import materialize as mat
    if getattr(store, "duck", None) is None:
        return {}, {a: "no finding_history on this backend" for a in wanted}
    if not mat._exists(store, mat.STATE):
        return {}, {a: "finding_history not built" for a in wanted}
    state = mat.state(store)
    fresh = mat.fresh_areas(store, state)
    st = state.set_index("area")
    candles = _candles(store)
    _require_data(candles, t)
    grid_ok = _on_grid(candles, t)
    ok, why = {}, {}
    for a in wanted:
        if a not in st.index:
            why[a] = "not materialised"
        elif cites(a):
            why[a] = "it cites published figures: their citation (publisher, date, definition) is not stored"
        elif a not in fresh:
            why[a] = "finding_history stale: ingested or code changed since it was built"
        elif not grid_ok:
            why[a] = "off the grid"
        elif not mat.covers(st.loc[a], [t]):  # outside first..last, or an hour's end of an area stored daily
            why[a] = ("stored at day ends only" if st.loc[a].get("grid") == "daily"
                      and st.loc[a, "first"] <= t <= st.loc[a, "last"] else "outside the materialised range")
        else:
            ok[a] = iso(pd.Timestamp(st.loc[a, "watermark"]).to_pydatetime())
    return ok, why


def cites(area: str) -> bool:
    """Whether the area's catalogue declares cited findings (a figure someone else published): a cited
    value without its citation, which lives in `detail` and finding_history does not hold, is not served."""
    return any("cited" in f.kind for f in registry.get(area).findings)


def _candles(store) -> tuple:
    """(first bar's open, last bar's close, first and last hourly bar's close) in one plain-SQL query
    (calendar.py asks Ibis, which costs more than the whole stored answer)."""
    return store.duck.execute("SELECT min(open_time), max(available_at), min(available_at) FILTER "
                              "(interval = '1h'), max(available_at) FILTER (interval = '1h') FROM candles").fetchone()


def _on_grid(candles: tuple, t: dt.datetime) -> bool:
    """Each day's instant (D+1 07:00, calendar.is_day_instant), or an hour's end where the store has
    hourly bars (calendar.on_grid)."""
    from btcstress.history.calendar import is_day_instant
    if is_day_instant(t):
        return True
    if t != t.replace(minute=0, second=0, microsecond=0):
        return False
    lo, hi = candles[2], candles[3]
    return lo is not None and lo <= t <= hi


def _require_data(candles: tuple, t: dt.datetime) -> None:
    """What Context.require_data refuses, refused the same way (a stored answer is no more lenient)."""
    first, last = candles[0], candles[1]
    if first is None:
        raise NoDataError("the store holds no price data: run `btcstress ingest snapshot` first")
    if t < first:
        raise NoDataError(f"no price data before {first.date()}")
    if t > last + dt.timedelta(days=2):
        raise NoDataError(f"no price data after {last.date()}")


def _rows(store, t: dt.datetime, areas: tuple[str, ...]) -> dict[str, list[dict]]:
    """The stored rows at t of `areas`, in the order they were written (the snapshot's emission order)."""
    from btcstress.history import COLUMNS
    from btcstress.history import materialize as mat
    cols = ", ".join(f'"{c}"' for c in ["area", *COLUMNS[1:]])
    cur = store.duck.execute(f"SELECT {cols} FROM {mat.TABLE} WHERE as_of = ? AND area IN "
                             f"({', '.join('?' * len(areas))}) ORDER BY rowid", [t, *areas])
    names = [d[0] for d in cur.description]
    out: dict[str, list[dict]] = {}
    for row in cur.fetchall():  # plain tuples: NULL is None, no NaN to clean
        r = dict(zip(names, row))
        for c in ("value", "zscore", "percentile"):
            if isinstance(r[c], float) and math.isnan(r[c]):
                r[c] = None
        out.setdefault(r["area"], []).append(r)
    return out


def _finding(r: dict, as_of: dt.datetime, mark: str) -> Finding:
    """A stored row as a Finding, with the provenance a stored row has (and no more)."""
    from btcstress.history import value_of
    spec = registry.finding(r["id"])
    z, p = r["zscore"], r["percentile"]
    unusual = None
    if z is not None or p is not None:
        unusual = {"zscore": None if z is None else float(z), "percentile": None if p is None else float(p)}
    t = utc_naive(as_of)
    src = Source(table="finding_history", origin=f"finding_history (materialised by ingest; fresh through {mark})",
                 rows=1, first=t, last=t, note="the stored value; " + DERIVE_HINT)
    return Finding(id=r["id"], subject=r["subject"], value=value_of(r), unit=r["unit"] or "", as_of=as_of,
                   window=r["window"] or "", kind=r["kind"] or "computed",
                   method=spec.definition if spec else "", sources=[src], note=r["note"], unusual=unusual,
                   detail={"served": f"stored (finding_history, fresh through {mark})",
                           "definition": spec.definition if spec else None, "derive": DERIVE_HINT})
