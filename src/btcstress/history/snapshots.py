"""`finding_snapshots`: whole FindingSets stored at day instants, so the brief can read them.

`finding_history` stores values, windows and z-scores; a brief needs more: every finding's `detail`
and `sources` (the drawdown's components, the venue notes, the datasets list) and the chart series,
which the set-based histories cannot produce. So a snapshot stores exactly what
`metrics.compute(store, T, with_series=True)` returned at a day instant T (D+1 07:00: what
`report --date D` means): the findings as `model_dump(mode="json")` and the series likewise, each
zlib-compressed JSON, with what it was computed from: the code version (one hash over every area's
`materialize.version` and the computing code they share), the data watermark (the latest ingested_at
then) and a digest of the data-quality flags known at T (the marks `metrics.compute` applies).

A stored snapshot answers T only when it is **fresh** (`check`): the same code, the same flags known at
T, and nothing ingested since it was stored with available_at <= T (data published after T cannot
change a finding at T: the point-in-time rule `materialize` relies on). Otherwise the brief is computed,
and the answer says which it was (`FindingSet.served`), never silently.

Written by `refresh` (every `ingest`, after finding_history) for the newest `days_kept()` day instants,
and by `store_range` (`btcstress snapshots --from D1 --to D2`) for a range asked on purpose. A snapshot
costs a whole computation with series (~1.4-3.4 s CPU, ~125 KB stored: docs/PERFORMANCE.md), so storing
one for every day of 2018-2026 is not done at ingest (~1.5 h CPU, far over the 5-minute rebuild budget).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from btcstress.findings import Finding, FindingSet, Series, iso
from btcstress.history.calendar import DAY, DAY_END, is_day_instant
from btcstress.store import utc_naive

log = logging.getLogger(__name__)
TABLE = "finding_snapshots"
# How many of the newest day instants each ingest stores: what a user briefs after a daily ingest is
# yesterday and the days just before it (a week covers "this week's briefs" and a weekend's backlog);
# each costs a whole computation, so more would push a one-day ingest's refresh past its 10 s target.
KEEP = 7
KEEP_ENV = "BTCSTRESS_SNAPSHOT_DAYS"  # 0 turns storing off (the test suite's many small ingests)
# Stale snapshots (data published before them ingested late) re-stored by one refresh at most; older
# stale ones are dropped (a reader then computes) and the log says how to store them again.
RESTORE_MAX = 31
# Packages that only present, transport or fetch findings (or compute histories, not snapshots): their
# code cannot change what `metrics.compute` returns, so editing them does not make a snapshot stale.
# Everything else under btcstress/ counts: metrics, scenario, stress, quality, fleet, areas, data, the
# top-level modules, and parsers and claims, which metric modules import (the ETF fund list, claim rules).
NOT_COMPUTING = frozenset({"cli", "api", "web", "brief", "mcp_server", "monitor", "connectors", "history",
                           "__pycache__"})


@dataclass
class Stored:
    """One stored snapshot's bookkeeping (no payload)."""
    as_of: dt.datetime
    code: str
    watermark: dt.datetime | None
    flags: str
    stored_by: str


def days_kept() -> int:
    raw = os.environ.get(KEEP_ENV)
    return KEEP if raw is None or not raw.strip() else max(0, int(raw))


def _ddl(store) -> None:
    store.duck.execute(f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        as_of TIMESTAMP PRIMARY KEY, code VARCHAR, versions VARCHAR, watermark TIMESTAMP, flags VARCHAR,
        stored_by VARCHAR, stored_at TIMESTAMP, seconds DOUBLE, findings BLOB, series BLOB)""")


def _exists(store) -> bool:
    from btcstress.history import materialize as mat
    return getattr(store, "duck", None) is not None and mat._exists(store, TABLE)


@functools.lru_cache(maxsize=1)
def code_version() -> tuple[str, str]:
    """(hash, JSON of {area: version, "shared": hash}): the areas' `materialize.version` and every
    computing file of the package (NOT_COMPUTING left out). The code does not change within a process."""
    from btcstress import areas as registry
    from btcstress.history import materialize as mat
    versions = {a.name: mat.version(a.module()) for a in registry.all()}
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and rel.parts[0] not in NOT_COMPUTING and "__pycache__" not in rel.parts:
            h.update(str(rel).encode())
            h.update(p.read_bytes())
    versions["shared"] = h.hexdigest()[:16]
    text = json.dumps(versions, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], text


def flags_digest(store, t: dt.datetime) -> str:
    """The data-quality flags known at t (everything but when they were derived), as count:hash-sum:
    quality is replaced whole by each ingest, so its content, not its ingested_at, says what changed."""
    from btcstress.history import materialize as mat
    if not mat._exists(store, "quality"):
        return "0:0"
    n, s = store.duck.execute("SELECT count(*), coalesce(sum(hash(series, ts, field, rule, value, compared, reason, "
                              "origin, available_at)), 0) FROM quality WHERE available_at <= ?", [t]).fetchone()
    return f"{n}:{s}"


# --- the payload ----------------------------------------------------------------------------------

def _plain(v: Any) -> Any:
    """numpy scalars as the Python numbers they equal; anything else non-JSON is refused (never
    stringified: a stored snapshot must give back what was computed)."""
    if hasattr(v, "item") and callable(v.item):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not storable as JSON")


def _pack(obj: Any) -> bytes:
    return zlib.compress(json.dumps(obj, default=_plain, separators=(",", ":")).encode(), 6)


def encode(fs: FindingSet) -> tuple[bytes, bytes]:
    """(findings, series) of a FindingSet as compressed JSON."""
    return (_pack({"params": fs.params, "findings": [f.model_dump(mode="json") for f in fs]}),
            _pack([s.model_dump(mode="json") for s in fs.series.values()]))


def _sources(d: dict) -> dict:
    """A dumped finding's or series' sources with first/last as the naive UTC datetimes computed ones hold."""
    for s in d.get("sources", ()):
        for k in ("first", "last"):
            if s.get(k) is not None:
                s[k] = utc_naive(dt.datetime.fromisoformat(s[k].replace("Z", "+00:00")))
    return d


def decode(as_of: dt.datetime, findings: bytes, series: bytes) -> FindingSet:
    body = json.loads(zlib.decompress(findings))
    fs = [Finding.model_validate(_sources(d)) for d in body["findings"]]
    for f in fs:
        f.as_of = f.as_of.astimezone(dt.timezone.utc)
    charts = [Series.model_validate(_sources(d)) for d in json.loads(zlib.decompress(series))]
    return FindingSet(as_of, fs, {s.name: s for s in charts}, body["params"])


# --- reading ----------------------------------------------------------------------------------------

def why_compute(as_of: dt.datetime, params: dict | None, price: float | None) -> str | None:
    """Why a brief question cannot be read from a stored snapshot whatever is stored (None: it may)."""
    if price is not None:
        return "hypothetical price"
    if params and any(params.values()):
        return "parameters other than the defaults"
    if not is_day_instant(utc_naive(as_of)):
        return "not a day instant: snapshots are stored at D+1 07:00Z, what --date D means"
    return None


def stored(store, at: dt.datetime | None = None) -> list[Stored]:
    """The stored snapshots' bookkeeping, oldest first (`at`: only the one at that naive-UTC instant)."""
    if not _exists(store):
        return []
    where, args = ("WHERE as_of = ?", [at]) if at is not None else ("", [])
    rows = store.duck.execute(f"SELECT as_of, code, watermark, flags, stored_by FROM {TABLE} {where} ORDER BY as_of",
                              args).fetchall()
    return [Stored(*r) for r in rows]


def _verdict(row: Stored, code: str, digest: str, mark: dt.datetime | None, published_since) -> str | None:
    """Why `row` is stale (None: fresh), given the current code version, the flags digest at its instant, the
    store's watermark and `published_since()`: whether rows ingested after its watermark were published by
    its instant (asked only when the watermark moved on)."""
    if row.code != code:
        return "code changed since it was stored"
    if digest != row.flags:
        return "the data-quality flags known at that instant changed since it was stored"
    if mark == row.watermark:
        return None
    if mark is None or row.watermark is None or mark < row.watermark:
        return "data removed since it was stored"
    return "data published by that instant ingested since it was stored" if published_since() else None


def check(store, row: Stored) -> str | None:
    """Why the stored snapshot `row` is stale (None: fresh): `_verdict` for one row, in ~3 small queries."""
    from btcstress.history import materialize as mat

    def published_since() -> bool:  # one query over the data tables
        return store.duck.execute("SELECT EXISTS (" + " UNION ALL ".join(
            f'SELECT 1 FROM "{t}" WHERE ingested_at > $1 AND available_at <= $2' for t in mat._data_tables(store))
            + ")", [row.watermark, row.as_of]).fetchone()[0]
    return _verdict(row, code_version()[0], flags_digest(store, row.as_of), mat.watermark(store), published_since)


def check_all(store, rows: list[Stored]) -> dict[dt.datetime, str | None]:
    """`check` for many stored snapshots in a few queries (not ~3 per snapshot: a store with a backfilled
    range holds thousands, and every ingest checks them): the flags digests of all their instants in
    one join, and per distinct watermark the earliest available_at among the rows ingested since it
    (a snapshot is stale when that is at or before its instant: `materialize._changed_since`'s rule)."""
    from btcstress.history import materialize as mat
    if not rows:
        return {}
    code, _ = code_version()
    mark = mat.watermark(store)
    digests: dict = {}
    if mat._exists(store, "quality"):
        digests = {t: f"{n}:{h}" for t, n, h in store.duck.execute(
            f"SELECT s.as_of, count(q.series), coalesce(sum(hash(q.series, q.ts, q.field, q.rule, q.value, q.compared, "
            f"q.reason, q.origin, q.available_at)) FILTER (WHERE q.series IS NOT NULL), 0) "  # hash(NULL, ..) is not NULL
            f"FROM {TABLE} s LEFT JOIN quality q ON q.available_at <= s.as_of "
            "GROUP BY s.as_of").fetchall()}
    since: dict = {}
    tables = mat._data_tables(store)
    for w in {r.watermark for r in rows if r.watermark is not None and mark is not None and r.watermark < mark}:
        since[w] = store.duck.execute("SELECT min(m) FROM (" + " UNION ALL ".join(
            f'SELECT min(available_at) AS m FROM "{t}" WHERE ingested_at > $1' for t in tables) + ")", [w]).fetchone()[0]
    return {r.as_of: _verdict(r, code, digests.get(r.as_of, "0:0"), mark,
                              lambda r=r: since.get(r.watermark) is not None and since[r.watermark] <= r.as_of)
            for r in rows}


def load(store, as_of: dt.datetime, *, params: dict | None = None, price: float | None = None
         ) -> tuple[FindingSet | None, str]:
    """(the stored snapshot at as_of, "stored snapshot (...)") when one may answer, else (None, why not)."""
    why = why_compute(as_of, params, price)
    if why is not None:
        return None, why
    if getattr(store, "duck", None) is None:
        return None, "no stored snapshots on this backend"
    t = utc_naive(as_of)
    row = next(iter(stored(store, t)), None)
    if row is None:
        return None, f"no snapshot stored at {iso(t)} (`btcstress snapshots --from D --to D` stores one)"
    stale = check(store, row)
    if stale is not None:
        return None, f"stored snapshot stale: {stale}"
    blobs = store.duck.execute(f"SELECT findings, series FROM {TABLE} WHERE as_of = ?", [t]).fetchone()
    fs = decode(as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.timezone.utc), *blobs)
    wm = iso(row.watermark) if row.watermark is not None else "none"
    return fs, f"stored snapshot (code {row.code}, watermark {wm}, stored by {row.stored_by})"


def brief_findings(store, as_of: dt.datetime, *, params: dict | None = None, price: float | None = None
                   ) -> FindingSet:
    """All findings with chart series as of `as_of`, for a brief: the stored snapshot when a fresh one
    answers the question, else `metrics.compute`; `FindingSet.served` says which (and why)."""
    fs, how = load(store, as_of, params=params, price=price)
    if fs is None:
        from btcstress import metrics
        fs = metrics.compute(store, as_of, params=params, price=price, with_series=True)
        how = f"computed ({how})"
    fs.served = how
    return fs


# --- writing ----------------------------------------------------------------------------------------

def store_at(store, t: dt.datetime, stored_by: str) -> float:
    """Compute the whole snapshot at day instant t and store it (replacing any); returns CPU seconds."""
    from btcstress import metrics
    from btcstress.history import materialize as mat
    t = utc_naive(t)
    c0 = time.process_time()
    fs = metrics.compute(store, t.replace(tzinfo=dt.timezone.utc), with_series=True)
    findings, series = encode(fs)
    code, versions = code_version()
    secs = time.process_time() - c0
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with store.transaction():
        store.duck.execute(f"DELETE FROM {TABLE} WHERE as_of = ?", [t])
        store.duck.execute(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [t, code, versions, mat.watermark(store), flags_digest(store, t), stored_by, now, secs,
                            findings, series])
    return secs


def day_instants(store, start: dt.datetime | None = None, end: dt.datetime | None = None) -> list[dt.datetime]:
    """The day instants within [start, end] from the first bar's open to the instant of the day in which
    the newest bar closes (a daily bar of D closes at D+1 00:00: D's instant D+1 07:00 is the brief a user
    asks for after that ingest; a later day's would go stale with the next bars)."""
    first, last = store.duck.execute("SELECT min(open_time), max(available_at) FROM candles").fetchone()
    if first is None:
        return []
    last = last + DAY_END
    lo, hi = max(first, utc_naive(start)) if start else first, min(last, utc_naive(end)) if end else last
    day = (hi - DAY_END).replace(hour=0, minute=0, second=0, microsecond=0) + DAY_END
    out = []
    while day >= lo:
        out.append(day)
        day -= DAY
    return out[::-1]


def refresh(store, *, keep: int | None = None) -> dict[str, Any]:
    """After an ingest (and finding_history's refresh): drop the snapshots of another code version, store
    the newest `keep` day instants that have no fresh snapshot, re-store the stale ones (up to
    RESTORE_MAX, newest first; older stale ones are dropped) and drop the ones ingest stored that fell
    out of the newest `keep`. Returns what was done."""
    keep = days_kept() if keep is None else keep
    if keep <= 0 and not _exists(store):
        return {"stored": 0}
    _ddl(store)
    code, _ = code_version()
    rows = stored(store)
    newest = day_instants(store)[-keep:] if keep > 0 else []
    old_code = [r.as_of for r in rows if r.code != code]
    aged = [r.as_of for r in rows if r.code == code and r.stored_by == "ingest" and r.as_of not in newest]
    kept = [r for r in rows if r.code == code and r.as_of not in aged]
    why = check_all(store, kept)
    stale = sorted((r.as_of for r in kept if why[r.as_of] is not None), reverse=True)
    fresh = {r.as_of for r in kept} - set(stale)
    restore, dropped_stale = stale[:RESTORE_MAX], stale[RESTORE_MAX:]
    drop = old_code + aged + dropped_stale
    if drop:
        with store.transaction():
            store.duck.execute(f"DELETE FROM {TABLE} WHERE as_of IN ({', '.join('?' * len(drop))})", drop)
    if dropped_stale:
        log.warning("finding_snapshots: %d stale snapshots before %s dropped (briefs there compute; "
                    "`btcstress snapshots --from D1 --to D2` stores them again)", len(dropped_stale), iso(restore[-1]))
    by = {r.as_of: r.stored_by for r in kept}
    todo = sorted({t for t in newest if t not in fresh} | set(restore))
    cpu = sum(store_at(store, t, by.get(t, "ingest")) for t in todo)
    log.info("finding_snapshots: %d stored (%.1f s CPU), %d dropped", len(todo), cpu, len(drop))
    return {"stored": len(todo), "restored": len(restore), "dropped": len(drop), "cpu_s": round(cpu, 2)}


def store_range(store, start: dt.datetime, end: dt.datetime, progress=None) -> dict[str, Any]:
    """Store a snapshot at every day instant in [start, end] that has no fresh one (the backfill)."""
    _ddl(store)
    have = {t for t, why in check_all(store, stored(store)).items() if why is None}
    days = day_instants(store, start, end)
    todo = [t for t in days if t not in have]
    cpu = 0.0
    for i, t in enumerate(todo, 1):
        cpu += store_at(store, t, "backfill")
        if progress:
            progress(i, len(todo), t)
    return {"stored": len(todo), "already": len(days) - len(todo), "cpu_s": round(cpu, 2)}
