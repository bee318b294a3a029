"""The files beside the store: the read copy readers use while a writer holds the store, and the WAL
policy of the live monitor's per-batch writes.

DuckDB lets one process write a database file, or any number of processes read it, never both at
once. An ingest is one transaction (that is what keeps it atomic across `kill -9`), so it holds the
file for as long as it runs. Readers (the API, `findings`, the MCP server) must not wait for it:

- When a writer closes the store, and again when the next writer opens it, the WAL is folded into
  the file (an explicit CHECKPOINT) and, when the store changed since the last copy, the file is copied
  to `<store>.readcopy`: a whole, committed state, made while the writer holds the lock, written under
  a temporary name and renamed over the old copy (a reader of the old copy keeps it). The copy carries
  the store's modification time, which says when that state was written and lets the next writer
  skip copying an unchanged store. (The copy at open covers a writer that was killed before its close.)
- A reader that finds the store held waits READ_GRACE seconds (a monitor batch takes less), then
  opens the copy read-only and logs that it did: it reads the store as it was before the running write
  began (snapshot isolation), never a half-written state.

The live monitor writes a batch every second or so and releases the store between batches. Each close
used to checkpoint (rewrite the file's changed blocks and its header); a `kill -9` of the monitor then
landed in a checkpoint far more often than anywhere else. Its per-batch opens now keep the batch in
the WAL (`PRAGMA disable_checkpoint_on_shutdown`: a commit is durable once in the WAL, and a torn WAL
tail is discarded on the next open) and checkpoint explicitly only every CHECKPOINT_EVERY seconds and
at the end (BatchOpener). Explicit CHECKPOINT statements, not the close's implicit one: DuckDB's
shutdown checkpoint runs without a client context, and DuckDB has had bugs there with index entries
replayed from a WAL (duckdb/duckdb#23848, #25771).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from pathlib import Path

log = logging.getLogger(__name__)

COPY_SUFFIX = ".readcopy"
# A reader waits this long for a writer before it reads the copy (a monitor batch is shorter).
READ_GRACE = float(os.environ.get("BTCSTRESS_READ_GRACE", "1.0"))
# The live monitor folds its WAL into the store (and refreshes the read copy) this often.
CHECKPOINT_EVERY = 60.0


def copy_path(db: Path) -> Path:
    return db.with_name(db.name + COPY_SUFFIX)


def wal_path(db: Path) -> Path:
    return db.with_name(db.name + ".wal")


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns


def copy_is_current(db: Path) -> bool:
    try:
        return _same(copy_path(db).stat(), db.stat())
    except FileNotFoundError:
        return False


def settle(con, db: Path) -> None:
    """Called by a writer right after it opened the store (so it holds the lock): fold a WAL left by
    the monitor's batches or by a killed process into the file, then refresh the read copy."""
    if wal_path(db).exists():
        con.execute("CHECKPOINT")
    publish(db)


def publish(db: Path) -> bool:
    """Copy the store to `<store>.readcopy` unless the copy is current. The caller holds the write lock
    and has just checkpointed (the file is a whole committed state). True when a copy was written."""
    if not db.exists() or wal_path(db).exists() or copy_is_current(db):
        return False
    tmp = db.with_name(db.name + COPY_SUFFIX + ".tmp")  # one writer at a time: one temporary name
    try:
        shutil.copyfile(db, tmp)
        st = db.stat()
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, copy_path(db))
    except OSError as exc:  # a full disk: readers wait for the writer as before, the write goes on
        log.warning("could not refresh the read copy of %s (%s); readers will wait for writers", db.name,
                    exc.strerror)
        tmp.unlink(missing_ok=True)
        return False
    return True


def open_read_copy(db: Path, holder: str):
    """The read copy, opened read-only (an Ibis connection), or None when there is none."""
    import ibis
    path = copy_path(db)
    if not path.exists():
        return None
    try:
        con = ibis.duckdb.connect(database=str(path), read_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged copy: readers wait for the writer instead
        log.warning("read copy %s unusable (%s)", path.name, str(exc).splitlines()[0][:200])
        return None
    at = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    log.warning("store %s is being written%s: reading its copy as written at %s (the running write is not in it)",
                db.name, holder, f"{at:%Y-%m-%dT%H:%M:%SZ}")
    return con


class BatchOpener:
    """Opens the store for one batch of a long-running writer (the live monitor): most batches stay in
    the WAL; every CHECKPOINT_EVERY seconds one open checkpoints and refreshes the read copy; `final()`
    checkpoints at the end."""

    def __init__(self, path: Path | str | None = None, every: float = CHECKPOINT_EVERY):
        self.path = path
        self.every = every
        self._last: float | None = None

    def __call__(self):
        from btcstress.store import Store
        now = time.monotonic()
        due = self._last is None or now - self._last >= self.every
        store = Store(self.path, keep_wal=not due)
        if due:
            self._last = now
        return store

    def final(self, wait: float = 60.0) -> None:
        """Fold the WAL into the store and refresh the read copy (a normal writer open and close)."""
        from btcstress.store import Store, connect_wait
        with connect_wait(wait):
            Store(self.path).close()
