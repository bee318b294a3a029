"""The Store: one DuckDB file through Ibis.

Writes are idempotent upserts by natural key inside one transaction per ingest run, so a run killed
at any point (even SIGKILL) leaves the store as before or as after it, never half. Reads are Ibis
tables, optionally cut at an as-of instant (only rows with available_at <= T).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from btcstress import schema, sqlcache, store_files
# Opening the file (re-exported: callers import these from store)
from btcstress.store_files import (DUCKDB_MAGIC, StoreBusyError, check_store_file, connect,  # noqa: F401
                                   connect_wait)
from btcstress.errors import BtcstressError, InputError, NoDataError
from btcstress.schema import TABLES, Table

DEFAULT_DB = "data/btcstress.duckdb"

_DUCK_TYPES = {
    pa.timestamp("us"): "TIMESTAMP",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.date32(): "DATE",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
}


def default_db_path() -> Path:
    return Path(os.environ.get("BTCSTRESS_DB", DEFAULT_DB))


def utc_naive(ts: dt.datetime) -> dt.datetime:
    """The store's timestamp convention: naive datetimes that mean UTC."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return ts


@dataclass
class UpsertResult:
    rows_in: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: "UpsertResult") -> "UpsertResult":
        self.rows_in += other.rows_in
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


# A re-ingest may revise a few stored values (a source's own corrections); more than this share of a
# file's already-stored rows changing at once is a different file (swapped columns, another fund) and
# is refused unless asked for (--allow-rewrite). Changed values always go to `value_history`.
REWRITE_SHARE = 0.01
REWRITE_MIN_ROWS = 5
# Tables whose rows are bookkeeping, rewritten by design: no history, no rewrite check.
BOOKKEEPING = frozenset({"quarantine", "ingest_log", "checkpoints", "stream_gaps", "value_history"})


class RewriteError(BtcstressError):
    """A re-ingest would change many already-stored values (exit 1: a data problem)."""

    exit_code = 1


class Store:
    def __init__(self, path: str | os.PathLike | None = None, *, read_only: bool = False, keep_wal: bool = False):
        """keep_wal: this writer's commits stay in the WAL at close (no checkpoint), for the live
        monitor's per-batch opens (see store_files). A reader may get the read copy while a writer
        holds the store (self.from_copy is then True)."""
        self.path = Path(path) if path is not None else default_db_path()
        if read_only and not self.path.exists():
            raise NoDataError(f"no store at {self.path}: run `btcstress ingest snapshot` first "
                              "(or set --db / BTCSTRESS_DB)")
        check_store_file(self.path)
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"--db {self.path}: cannot create its folder ({exc.strerror})") from None
            if not os.access(self.path.parent, os.W_OK | os.X_OK) or (self.path.exists()
                                                                      and not os.access(self.path, os.W_OK)):
                raise InputError(f"--db {self.path}: not writable")
        self.ibis = connect(self.path, read_only)
        sqlcache.install(self.ibis)  # a metric's expression at another instant reuses its compiled SQL
        self._tables: dict[str, ibis.Table] = {}  # canonical tables: their schema is fixed once open
        self.reads: set[str] | None = None  # the tables `table` was asked for, while set (history.reads_of)
        self.read_only = read_only
        # Results kept for this open store's life (`kept`): only a read-only store, whose rows cannot change
        # while it is open (DuckDB's file lock keeps writers out; a read copy is never written).
        self._kept: dict = {}
        self.keep_wal = keep_wal
        self.from_copy = getattr(self.ibis, "_btcstress_read_copy", False)
        self._in_tx = False
        self.run_id: str | None = None  # set by ingest.run: the run that changed a value (value_history)
        self.allow_rewrite = True  # ingest.run sets False unless --allow-rewrite
        try:
            if read_only:
                self._shadow_missing_tables()
            else:
                self._create_tables()
                if keep_wal:
                    self.duck.execute("PRAGMA disable_checkpoint_on_shutdown")
                else:
                    store_files.settle(self.duck, self.path)
        except BaseException:  # a failed open (or a kill) must not leave the file held by this process
            self.ibis.disconnect()
            raise

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def duck(self):
        """The raw DuckDB connection, for DDL and the upsert's DML only (metrics use Ibis)."""
        return self.ibis.con

    def kept(self, key):
        """What `keep(key, value)` stored on this read-only store, or None (always None when writable)."""
        return self._kept.get(key) if self.read_only else None

    def keep(self, key, value) -> None:
        """Keep a value that depends only on the store's rows (e.g. the stress index at past day ends) for
        later computations on this store: the sweep and a report step through instants of one open store.
        A writable store keeps nothing (its rows may change)."""
        if self.read_only:
            self._kept[key] = value

    def share_kept(self, kept: dict) -> None:
        """Keep results in `kept`, a dict shared with the other read-only opens of the same unchanged store
        file (the API opens the store per request and keeps one per store version). Not for a read copy
        (taken while a writer holds the file: its rows are the copy's, not the version's)."""
        if self.read_only and not self.from_copy:
            self._kept = kept

    def close(self) -> None:
        if not self.read_only and not self.keep_wal:
            with contextlib.suppress(Exception):  # else the close's own checkpoint does it
                self.duck.execute("CHECKPOINT")  # explicit: with a client context (see store_files)
            store_files.publish(self.path)  # the copy readers get during the next write: this state
        self.ibis.disconnect()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _create_tables(self) -> None:
        """Create missing tables and columns in one transaction: a kill during the very first open
        leaves no table at all rather than 4 of 21; a store left partial by an older version is
        completed here (and shadowed on read-only opens, see _shadow_missing_tables)."""
        existing = set(self.ibis.list_tables())
        todo = [t for t in TABLES.values() if t.name not in existing]
        with self.transaction():
            for t in TABLES.values():
                if t.name in existing:
                    self._add_missing_columns(t)
            for t in todo:
                self.duck.execute(_ddl(t))

    def _shadow_missing_tables(self) -> None:
        """Read-only: a table the file lacks (a store from an older version, or one left partial)
        reads as empty, through a temporary table with the canonical columns, instead of failing
        every query with TableNotFound until the next write."""
        existing = set(self.ibis.list_tables())
        for t in TABLES.values():
            if t.name not in existing:
                self.duck.execute(_ddl(t, temp=True))

    def _add_missing_columns(self, t: Table) -> None:
        have = {r[0] for r in self.duck.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [t.name]).fetchall()}
        for f in t.arrow_schema():
            if f.name not in have:
                self.duck.execute(f'ALTER TABLE "{t.name}" ADD COLUMN "{f.name}" {_DUCK_TYPES[f.type]}')

    @contextlib.contextmanager
    def transaction(self):
        """All writes inside happen or none do (DuckDB's WAL makes this hold across SIGKILL)."""
        if self._in_tx:
            yield self
            return
        self.duck.execute("BEGIN TRANSACTION")
        self._in_tx = True
        try:
            yield self
        except BaseException:
            self.duck.execute("ROLLBACK")
            raise
        else:
            self.duck.execute("COMMIT")
        finally:
            self._in_tx = False

    # -- writes --------------------------------------------------------------------------------

    def upsert(self, table: str | Table, rows: pa.Table, *, ingested_at: dt.datetime | None = None) -> UpsertResult:
        """Insert rows whose key is new, update rows whose values changed, leave the rest.

        `rows` has the key columns and any subset of the value columns (plus origin, and
        available_at when the table's rule is EXPLICIT). Keys must be unique within `rows`:
        the importers resolve duplicates (into quarantine) before they get here.
        """
        t = TABLES[table] if isinstance(table, str) else table
        if rows.num_rows == 0:
            return UpsertResult()
        rows = self._complete(t, rows, ingested_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
        value_cols = [c for c in rows.column_names if c not in t.key and c not in ("origin", "ingested_at")]
        keys = list(t.key)
        name = f"_staged_{uuid.uuid4().hex}"
        self.duck.register(name, rows)
        try:
            on = " AND ".join(f's."{k}" = t."{k}"' for k in keys)
            differs = " OR ".join(f's."{c}" IS DISTINCT FROM t."{c}"' for c in value_cols) or "FALSE"
            new, changed = self.duck.execute(
                f'SELECT count(*) FILTER (WHERE t."{keys[0]}" IS NULL), '
                f'count(*) FILTER (WHERE t."{keys[0]}" IS NOT NULL AND ({differs})) '
                f'FROM "{name}" s LEFT JOIN "{t.name}" t ON {on}').fetchone()
            with self.transaction():
                if changed and t.name not in BOOKKEEPING:
                    self._guard_rewrite(t, rows, new, changed)
                    self._keep_history(t, name, on, value_cols)
                if changed:
                    sets = ", ".join(f'"{c}" = s."{c}"' for c in value_cols + ["origin", "ingested_at"])
                    self.duck.execute(f'UPDATE "{t.name}" t SET {sets} FROM "{name}" s WHERE {on} AND ({differs})')
                if new:
                    cols = ", ".join(f'"{c}"' for c in rows.column_names)
                    self.duck.execute(
                        f'INSERT INTO "{t.name}" ({cols}) SELECT s.* '
                        f'FROM "{name}" s ANTI JOIN "{t.name}" t ON {on}')
        finally:
            self.duck.unregister(name)
        return UpsertResult(rows_in=rows.num_rows, new=new, updated=changed, unchanged=rows.num_rows - new - changed)

    def _guard_rewrite(self, t: Table, rows: pa.Table, new: int, changed: int) -> None:
        matched = rows.num_rows - new
        if self.allow_rewrite or changed <= max(REWRITE_MIN_ROWS, REWRITE_SHARE * matched):
            return
        origins = sorted(set(rows["origin"].to_pylist()))[:3]
        raise RewriteError(
            f"refused: {', '.join(origins)} would change {changed:,} of the {matched:,} {t.name} rows it already "
            f"stored ({changed / matched:.0%}; more than {REWRITE_SHARE:.0%} looks like another file or swapped "
            "columns). Nothing was written. If the source really revised them, rerun with --allow-rewrite "
            "(old values are kept in value_history).")

    def _keep_history(self, t: Table, staged: str, on: str, value_cols: list[str]) -> None:
        """Copy every value about to change into value_history (old, new, origin, run)."""
        run = self.run_id or f"upsert-{uuid.uuid4().hex[:12]}"
        key = "json_object(" + ", ".join(f"'{k}', t.\"{k}\"" for k in t.key) + ")::VARCHAR"
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        for c in value_cols:
            if c == "available_at":
                continue
            self.duck.execute(
                f'INSERT OR IGNORE INTO value_history (table_name, key, "column", old_value, new_value, old_origin, '
                f'run_id, origin, available_at, ingested_at) '
                f"SELECT ?, {key}, ?, CAST(t.\"{c}\" AS VARCHAR), CAST(s.\"{c}\" AS VARCHAR), t.origin, ?, s.origin, "
                f'?, ? FROM "{staged}" s JOIN "{t.name}" t ON {on} WHERE s."{c}" IS DISTINCT FROM t."{c}"',
                [t.name, c, run, now, now])

    def _complete(self, t: Table, rows: pa.Table, ingested_at: dt.datetime) -> pa.Table:
        """Cast to the canonical types and fill available_at and ingested_at."""
        missing = [k for k in t.key if k not in rows.column_names and k != "origin"]
        if missing:
            raise BtcstressError(f"upsert into {t.name}: key columns missing: {missing}")
        if "origin" not in rows.column_names:
            raise BtcstressError(f"upsert into {t.name}: every row needs an origin")
        full = t.arrow_schema()
        if "available_at" not in rows.column_names:
            rows = rows.append_column("available_at", publication_time(t, rows))
        rows = rows.append_column("ingested_at", pa.array([ingested_at] * rows.num_rows, pa.timestamp("us")))
        return pa.table({c: rows[c].cast(full.field(c).type) for c in rows.column_names})

    def quarantine(self, rows: list[dict]) -> int:
        """Keep rows that failed validation (see schema.QUARANTINE). Idempotent per file/line/field."""
        if not rows:
            return 0
        tbl = pa.Table.from_pylist(
            [{"target": r["target"], "file": r["file"], "line": r["line"], "field": r["field"],
              "value": None if r.get("value") is None else str(r["value"]), "reason": r["reason"],
              "raw": r.get("raw"), "origin": r.get("origin", r["file"]),
              "available_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)} for r in rows])
        # One quarantine row per (file, line, field): a row failing twice on one field keeps the first reason.
        seen, keep = set(), []
        for i, r in enumerate(rows):
            k = (r["target"], r["file"], r["line"], r["field"])
            if k not in seen:
                seen.add(k)
                keep.append(i)
        tbl = tbl.take(keep)
        # available_at on quarantine is when the row was FIRST quarantined: a re-ingest of the same bad
        # row keeps that time (so it is not counted as a change, and the history is not rewritten).
        first = self._first_quarantined(tbl)
        if first:
            keys = zip(*(tbl.column(c).to_pylist() for c in ("target", "file", "line", "field")))
            times = [first.get(k, t) for k, t in zip(keys, tbl.column("available_at").to_pylist())]
            tbl = tbl.set_column(tbl.schema.get_field_index("available_at"), "available_at",
                                 pa.array(times, type=tbl.schema.field("available_at").type))
        res = self.upsert(schema.QUARANTINE, tbl)
        return res.rows_in

    def _first_quarantined(self, tbl: pa.Table) -> dict[tuple, dt.datetime]:
        """{(target, file, line, field): available_at} of the stored quarantine rows of tbl's files."""
        files = sorted(set(tbl.column("file").to_pylist()))
        got = self.duck.execute('SELECT target, file, line, field, available_at FROM quarantine WHERE file IN ('
                                + ", ".join("?" * len(files)) + ")", files).fetchall()
        return {(t, f, ln, fd): at for t, f, ln, fd, at in got}

    def log_ingest(self, run_id: str, target: str, file: str, started_at: dt.datetime,
                   result: UpsertResult, quarantined: int) -> None:
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        self.upsert(schema.INGEST_LOG, pa.table({
            "run_id": [run_id], "target": [target], "file": [file], "started_at": [utc_naive(started_at)],
            "finished_at": [now], "rows_in": [result.rows_in], "rows_new": [result.new],
            "rows_updated": [result.updated], "rows_unchanged": [result.unchanged],
            "rows_quarantined": [quarantined], "origin": [file], "available_at": [now]}))

    # -- reads ---------------------------------------------------------------------------------

    def table(self, name: str, as_of: dt.datetime | None = None) -> ibis.Table:
        """An Ibis table; with as_of, only the rows published by then."""
        if self.reads is not None:
            self.reads.add(name)
        t = self._tables.get(name)
        if t is None:
            t = self.ibis.table(name)  # asks DuckDB for the schema: once per canonical table
            if name in TABLES:
                self._tables[name] = t
        if as_of is not None:
            t = t.filter(t.available_at <= utc_naive(as_of))
        return t

    def counts(self) -> dict[str, int]:
        return {name: int(self.ibis.table(name).count().execute()) for name in TABLES
                if name in set(self.ibis.list_tables())}


def _ddl(t: Table, temp: bool = False) -> str:
    cols = [f'"{f.name}" {_DUCK_TYPES[f.type]}' for f in t.arrow_schema()]
    keys = ", ".join(f'"{k}"' for k in t.key)
    return f'CREATE {"TEMP " if temp else ""}TABLE "{t.name}" ({", ".join(cols)}, PRIMARY KEY ({keys}))'


def publication_time(t: Table, rows: pa.Table) -> pa.Array:
    """available_at for rows whose importer did not supply it, by the table's rule."""
    if t.publication == schema.END_OF_DAY:
        d = rows[t.date_column].cast(pa.timestamp("us"))
        return pc.add(d, pa.scalar(dt.timedelta(days=1), pa.duration("us")))
    if t.publication == schema.CLOSE:
        start = rows[t.time_column].cast(pa.timestamp("us"))
        lengths = pa.array([interval_length(i) for i in rows["interval"].to_pylist()], pa.duration("us"))
        return pc.add(start, lengths)
    raise BtcstressError(f"rows for {t.name} need an explicit available_at (publication rule {t.publication})")


_UNITS = {"m": dt.timedelta(minutes=1), "h": dt.timedelta(hours=1), "d": dt.timedelta(days=1),
          "w": dt.timedelta(weeks=1)}


def interval_length(interval: str) -> dt.timedelta:
    """'1m' -> 1 minute, '4h' -> 4 hours, '1d' -> 1 day."""
    try:
        return int(interval[:-1]) * _UNITS[interval[-1]]
    except (KeyError, ValueError):
        raise BtcstressError(f"unknown bar interval {interval!r} (expected e.g. 1m, 1h, 1d)") from None
