"""Answering a history question: from `finding_history` where it is fresh and the instants are on the
grid, else computed (series-first areas set-based; the others one snapshot per instant, the
fallback). Every answer says which it did (`Answer.how`), so a stale store is never served silently.
The CLI (`btcstress history`), the API (`GET /history`) and the Python API (`btcstress.open`) use it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from btcstress.errors import InputError
from btcstress.history import COLUMNS, area_modules, area_name, compute, empty, series_first
from btcstress.history import materialize as mat
from btcstress.history.calendar import hourly_span, instants as make_instants, on_grid
from btcstress.store import utc_naive

# One snapshot per instant costs ~0.5-2 s: beyond this many instants a fallback area must be asked for.
FALLBACK_LIMIT = 400


@dataclass
class Answer:
    rows: pd.DataFrame  # history.COLUMNS
    how: dict[str, str] = field(default_factory=dict)  # area -> "stored" | "computed (series)" | ...

    def describe(self) -> str:
        return "; ".join(f"{a}: {h}" for a, h in self.how.items())


def area_of(fid: str) -> str:
    from btcstress.declared import finding_ids
    ids = finding_ids()
    if fid in ids:
        return ids[fid]
    known = ", ".join(sorted({i.split(".")[0] for i in ids}))
    raise InputError(f"unknown finding id {fid!r} (prefixes: {known}; `btcstress findings --json` lists ids)")


def answer(store, ids: list[str] | None, start: dt.datetime, end: dt.datetime, every: str = "1d",
           subject: str | None = None, *, allow_fallback: bool = True) -> Answer:
    """Rows of `ids` (None: every finding) at each instant from start to end, every `every`."""
    start, end = utc_naive(start), utc_naive(end)
    ts = make_instants(start, end, every)
    areas = sorted({area_of(i) for i in ids}) if ids else [area_name(m) for m in area_modules()]
    series = {area_name(m) for m in area_modules() if series_first(m)}
    stored = _stored_areas(store, ts)
    out, how = [], {}
    for area in areas:
        if area in stored:
            df = mat.read(store, [i for i in ids if area_of(i) == area] if ids else None, ts[0], ts[-1], subject)
            df = df[df["as_of"].isin(pd.to_datetime(pd.Series(ts)).astype("datetime64[us]"))]
            df = df[df["id"].map(lambda i: area_of(i) == area)] if not ids else df
            how[area] = "stored (finding_history)"
        elif area in series or allow_fallback:
            if area not in series and len(ts) > FALLBACK_LIMIT:
                raise InputError(f"{area} has no series-first history yet: it is computed one snapshot per "
                                 f"instant, and {len(ts):,} instants is more than {FALLBACK_LIMIT}; ask for a "
                                 "shorter range or a coarser --every")
            df = compute(store, ts, areas=(area,)).rows
            how[area] = "computed (series)" if area in series else "computed (snapshot per instant: fallback)"
        else:
            how[area] = "skipped (no series-first path)"
            continue
        if ids:
            df = df[df["id"].isin(ids)]
        if subject:
            df = df[df["subject"] == subject]
        out.append(df)
    rows = pd.concat(out, ignore_index=True) if out else empty()
    rows = rows[COLUMNS].sort_values("as_of", kind="stable", ignore_index=True)
    return Answer(rows, how)


def _stored_areas(store, ts: list[dt.datetime]) -> set[str]:
    """Areas whose finding_history is fresh and holds every asked instant (all on the grid)."""
    try:
        fresh = mat.fresh_areas(store)
    except Exception:  # noqa: BLE001 - a store without the table (or a Spark warehouse) has none
        return set()
    if not fresh:
        return set()
    st = mat.state(store)
    hourly = hourly_span(store)
    if not all(on_grid(t, hourly) for t in ts):
        return set()
    ok = set()
    for r in st.itertuples():
        if r.area in fresh and mat.covers(r, ts):  # an area stored at day ends only has no hours' ends
            ok.add(r.area)
    return ok


def findings_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows as the Python API returns them: indexed by as_of, numeric `value`, text in `value_text`."""
    df = rows.set_index("as_of")
    df.index = pd.DatetimeIndex(df.index).tz_localize("UTC")
    return df
