"""`finding_history`: the series-first areas' findings on the grid, stored for serving.

`refresh(store)` (run by every `ingest`) brings it up to date incrementally: only instants at or after
the earliest `available_at` among the rows the store gained or changed since the last refresh are
recomputed (a finding at T reads only rows published by T, so nothing earlier can change). What
counts as changed: rows whose `ingested_at` is after the last refresh's watermark, and any difference
in the derived `quality` flags (replaced whole by each ingest, so compared by content). A new grid
day (the data grew) is computed too. An area whose code version changed is rebuilt whole.

`state(store)` says, per area, through which watermark it is fresh; readers (`serve.py`) use a
materialisation only when it is fresh, else they compute, and say which they did.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import logging
import time

import pandas as pd

from btcstress import schema
from btcstress.history import CITE, COLUMNS, area_modules, area_name, compute, series_first
from btcstress.history.calendar import grid, is_day_instant

log = logging.getLogger(__name__)
TABLE = "finding_history"
STATE = "finding_history_state"
FLAGS = "finding_history_flags"
CITATIONS = "finding_history_citations"
DERIVED = {"quality", "quarantine", "ingest_log", "checkpoints", "stream_gaps"}
# Areas stored on the grid (daily, plus hourly where the data is hourly).
MATERIALISED = ("price", "market", "leverage", "etf", "treasuries", "miners", "stress")
# Areas stored at the day ends only (`covers` says which instants a stored area holds; the others are
# computed on request). None since session 4: the stress history over the whole grid (22,875 instants)
# now takes ~8 s (2 s CPU), so stress is stored hourly too (docs/PERFORMANCE.md).
DAILY_ONLY: tuple[str, ...] = ()


def _ddl(store) -> None:
    store.duck.execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        as_of TIMESTAMP, area VARCHAR, id VARCHAR, subject VARCHAR, value DOUBLE, value_text VARCHAR,
        unit VARCHAR, "window" VARCHAR, kind VARCHAR, note VARCHAR, zscore DOUBLE, percentile DOUBLE)""")
    store.duck.execute(f"""CREATE TABLE IF NOT EXISTS {STATE} (
        area VARCHAR PRIMARY KEY, version VARCHAR, watermark TIMESTAMP, first TIMESTAMP, last TIMESTAMP,
        instants BIGINT, refreshed_at TIMESTAMP, seconds DOUBLE, grid VARCHAR)""")
    store.duck.execute(f"ALTER TABLE {STATE} ADD COLUMN IF NOT EXISTS grid VARCHAR")  # stores from before
    # The tables the area's rows were computed from (history.reads_of), comma-separated; NULL: not known
    # (a store from before), so a change to any table refreshes it.
    store.duck.execute(f"ALTER TABLE {STATE} ADD COLUMN IF NOT EXISTS tables VARCHAR")
    # A cited finding's citation (history.CITE), stored once per distinct text and keyed from the rows.
    store.duck.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS cite VARCHAR")
    store.duck.execute(f"CREATE TABLE IF NOT EXISTS {CITATIONS} (key VARCHAR PRIMARY KEY, body VARCHAR)")
    store.duck.execute(f"""CREATE TABLE IF NOT EXISTS {FLAGS} (
        series VARCHAR, ts TIMESTAMP, field VARCHAR, rule VARCHAR, available_at TIMESTAMP)""")


def version(mod) -> str:
    """The area's code version: a hash of its module's source, its history module's and those it names in
    `HISTORY_CODE`."""
    h = hashlib.sha256(inspect.getsource(mod).encode())
    import importlib
    import importlib.resources
    try:
        h.update(inspect.getsource(importlib.import_module(mod.__name__ + "_history")).encode())
    except ModuleNotFoundError:
        pass
    # An area whose definitions live in other modules names them (the stress area: btcstress.stress.*).
    for dep in getattr(mod, "HISTORY_CODE", ()):
        h.update(inspect.getsource(importlib.import_module(dep)).encode())
    # Package data files an area's model reads (the miners' sourced ASIC fleet and prices).
    for pkg, name in getattr(mod, "HISTORY_DATA", ()):
        h.update(importlib.resources.files(pkg).joinpath(name).read_bytes())
    # An area that reads another's findings (ETF P&L, treasury values at price.last_usd) is stale when
    # that area's code changes too.
    for need in getattr(mod, "HISTORY_NEEDS", ("price",)):
        dep = next((m for m in area_modules() if area_name(m) == need and m is not mod), None)
        if dep is not None:
            h.update(version(dep).encode())
    return h.hexdigest()[:16]


def watermark(store) -> dt.datetime | None:
    """The latest ingested_at over the data tables: what a materialisation is fresh through."""
    tables = _data_tables(store)
    if not tables:
        return None
    # one query, not one per table: readers (history/served.py) ask this on every question
    return store.duck.execute("SELECT max(m) FROM (" + " UNION ALL ".join(
        f'SELECT max(ingested_at) AS m FROM "{t}"' for t in tables) + ")").fetchone()[0]


def _exists(store, name: str) -> bool:
    return bool(store.duck.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                   [name]).fetchone()[0])


def _data_tables(store) -> list[str]:
    """Canonical tables with both available_at and ingested_at (what a finding can read)."""
    present = {r[0] for r in store.duck.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return [t for t, spec in schema.TABLES.items() if t not in DERIVED and t in present
            and {"available_at", "ingested_at"} <= set(spec.arrow_schema().names)]


def state(store) -> pd.DataFrame:
    if not _exists(store, STATE):
        return pd.DataFrame(columns=["area", "version", "watermark", "first", "last", "instants"])
    return store.duck.execute(f"SELECT * FROM {STATE}").df()


def fresh_areas(store, st: pd.DataFrame | None = None) -> set[str]:
    """Areas whose stored history is current: same code, nothing ingested since (`st`: state(store))."""
    st = state(store) if st is None else st
    if st.empty:
        return set()
    mark = watermark(store)
    versions = {area_name(m): version(m) for m in area_modules() if series_first(m)}
    return {r.area for r in st.itertuples()
            if versions.get(r.area) == r.version and (mark is None or (pd.notna(r.watermark) and r.watermark >= mark))}


def _changed_since(store, mark: dt.datetime | None, tables: frozenset[str] | None = None) -> dt.datetime | None:
    """Earliest available_at among rows ingested after `mark` (in `tables` only, when given) and quality
    flags that differ (in any series: the flags are not kept per table)."""
    firsts = []
    for t in _data_tables(store):
        if tables is not None and t not in tables:
            continue
        q = f'SELECT min(available_at) FROM "{t}"' + (" WHERE ingested_at > ?" if mark is not None else "")
        v = store.duck.execute(q, [mark] if mark is not None else []).fetchone()[0]
        if v is not None:
            firsts.append(v)
    if _exists(store, "quality"):
        cols = "series, ts, field, rule, available_at"
        v = store.duck.execute(f"""SELECT min(available_at) FROM (
            (SELECT {cols} FROM quality EXCEPT SELECT {cols} FROM {FLAGS})
            UNION ALL (SELECT {cols} FROM {FLAGS} EXCEPT SELECT {cols} FROM quality))""").fetchone()[0]
        if v is not None:
            firsts.append(v)
    return min(firsts) if firsts else None


def _tables(prev) -> frozenset[str] | None:
    """The tables a stored area was computed from (STATE.tables); None: not known."""
    v = prev.get("tables")
    return frozenset(v.split(",")) if isinstance(v, str) and v else None


def refresh(store, *, full: bool = False, areas: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Bring finding_history up to date for the series-first areas; returns what was done per area."""
    _ddl(store)
    mark = watermark(store)
    st = state(store).set_index("area") if not state(store).empty else pd.DataFrame()
    every = grid(store)
    done = {}
    reuse: dict = {}  # one store state for the whole refresh: the price rows are computed once
    mods = [m for m in area_modules() if series_first(m) and area_name(m) in (areas or MATERIALISED)]
    for mod in mods:
        area = area_name(mod)
        ver = version(mod)
        instants = [t for t in every if is_day_instant(t)] if area in DAILY_ONLY else every
        prev = st.loc[area] if area in st.index else None
        kind = "daily" if area in DAILY_ONLY else "daily+hourly"
        if full or prev is None or prev["version"] != ver or prev.get("grid") != kind:  # a new grid: rebuilt
            start = None
        else:
            # Only the rows of the tables the area read last time can change its rows (a cite changes
            # `citations`: the leverage and miners histories, not the price's or the ETFs').
            changed = _changed_since(store, prev["watermark"] if pd.notna(prev["watermark"]) else None,
                                     _tables(prev))
            last = pd.Timestamp(prev["last"]).to_pydatetime() if pd.notna(prev["last"]) else None
            new_days = next((t for t in instants if last is None or t > last), None)
            cands = [x for x in (changed, new_days) if x is not None]
            start = min(cands) if cands else None
            if start is None:  # nothing it reads changed: fresh through the new watermark as it stands
                if mark is not None and (pd.isna(prev["watermark"]) or prev["watermark"] < mark):
                    with store.transaction():
                        store.duck.execute(f"UPDATE {STATE} SET watermark = ? WHERE area = ?", [mark, area])
                done[area] = {"instants": 0, "seconds": 0.0, "from": None}
                continue
        todo = [t for t in instants if start is None or t >= start]
        t0 = time.perf_counter()
        result = compute(store, todo, areas=(area,), fallback=False, reuse=reuse) if todo else None
        rows = result.rows if result is not None else None
        read = set(result.tables.get(area, ())) if result is not None else set()
        if start is not None:  # an incremental refresh adds to what the whole build read (a few instants
            before = _tables(prev)  # may read less); one from a store that did not record it stays unknown
            read = read | before if before is not None else set()
        with store.transaction():
            if start is None:
                store.duck.execute(f"DELETE FROM {TABLE} WHERE area = ?", [area])
            else:
                store.duck.execute(f"DELETE FROM {TABLE} WHERE area = ? AND as_of >= ?", [area, start])
            if rows is not None and len(rows):
                _insert(store, area, rows)
            secs = time.perf_counter() - t0
            store.duck.execute(f"DELETE FROM {STATE} WHERE area = ?", [area])
            store.duck.execute(f"INSERT INTO {STATE} (area, version, watermark, first, last, instants, "
                               "refreshed_at, seconds, grid, tables) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [area, ver, mark, instants[0] if instants else None,
                                instants[-1] if instants else None, len(instants),
                                dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), secs,
                                kind, ",".join(sorted(read)) or None])
        done[area] = {"instants": len(todo), "seconds": secs, "from": start}
        log.info("finding_history %s: %d instants %s in %.1f s", area, len(todo),
                 "rebuilt" if start is None else f"from {start:%Y-%m-%dT%H:%MZ}", secs)
    with store.transaction():  # citations no stored row points to any more
        store.duck.execute(f"DELETE FROM {CITATIONS} WHERE key NOT IN (SELECT cite FROM {TABLE} WHERE cite IS NOT NULL)")
    if _exists(store, "quality"):
        with store.transaction():
            store.duck.execute(f"DELETE FROM {FLAGS}")
            store.duck.execute(f"INSERT INTO {FLAGS} SELECT series, ts, field, rule, available_at FROM quality")
    return done


def _insert(store, area: str, rows: pd.DataFrame) -> None:
    """Write an area's rows; each distinct citation text once in CITATIONS, the rows keyed to it."""
    rows = rows.copy()
    rows.insert(1, "area", area)
    bodies = rows[CITE] if CITE in rows.columns else pd.Series(None, index=rows.index, dtype=object)
    bodies = bodies.where(bodies.notna(), None)
    keys = {b: hashlib.sha256(b.encode()).hexdigest()[:20] for b in bodies.dropna().unique()}
    rows[CITE] = bodies.map(keys)
    if keys:
        store.duck.register("_fh_cites", pd.DataFrame({"key": list(keys.values()), "body": list(keys)}))
        store.duck.execute(f"INSERT INTO {CITATIONS} SELECT * FROM _fh_cites ON CONFLICT DO NOTHING")
        store.duck.unregister("_fh_cites")
    cols = ["as_of", "area", *COLUMNS[1:], CITE]
    store.duck.register("_fh_rows", rows[cols])
    store.duck.execute(f"INSERT INTO {TABLE} ({', '.join(_q(c) for c in cols)}) SELECT * FROM _fh_rows")
    store.duck.unregister("_fh_rows")


def covers(state_row, ts: list[dt.datetime]) -> bool:
    """Whether an area's stored rows (its `state` row) hold every instant of `ts` (all on the grid):
    within its first..last, and day instants only (D+1 07:00) for an area stored daily."""
    if pd.isna(state_row.first) or not (state_row.first <= ts[0] and ts[-1] <= state_row.last):
        return False
    return getattr(state_row, "grid", None) != "daily" or all(is_day_instant(t) for t in ts)


def read(store, ids: list[str] | None, start: dt.datetime, end: dt.datetime, subject: str | None = None
         ) -> pd.DataFrame:
    """Stored rows in [start, end] (for fresh areas only: check `fresh_areas` first)."""
    where, args = ["as_of >= ?", "as_of <= ?"], [start, end]
    if ids:
        where.append("id IN (" + ", ".join("?" * len(ids)) + ")")
        args += ids
    if subject:
        where.append("subject = ?")
        args.append(subject)
    df = store.duck.execute(f"SELECT {', '.join(_q(c) for c in COLUMNS)} FROM {TABLE} WHERE {' AND '.join(where)} "
                            "ORDER BY as_of", args).df()
    return df


def _q(c: str) -> str:
    return f'"{c}"'
