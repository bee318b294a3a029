"""Opening the store file and the files beside it: refusing a --db that is not a DuckDB store,
waiting for a store another process holds (and naming the holder), the read copy readers use while a
writer holds the store, and the WAL policy of the live monitor's per-batch writes.

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

import contextlib
import datetime as dt
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import ibis

from btcstress.errors import BtcstressError, InputError

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


# A DuckDB database file carries this magic at byte 8 of its first block.
DUCKDB_MAGIC = b"DUCK"


def check_store_file(path: Path) -> None:
    """Refuse a --db that exists but is not a DuckDB database (a CSV, a text file, a folder), instead
    of letting DuckDB fail obscurely or a caller write somewhere else."""
    if not path.exists():
        return
    if path.is_dir():
        raise InputError(f"--db {path} is a folder, not a store file")
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise InputError(f"--db {path}: cannot read it ({exc.strerror})") from None
    if len(head) == 0:
        raise InputError(f"--db {path} is an empty file, not a DuckDB store: remove it or choose another path")
    if head[8:12] != DUCKDB_MAGIC:
        raise InputError(f"--db {path} is not a DuckDB store (it exists and holds something else): "
                         "choose another path")



def connect(path: Path, read_only: bool, wait: float | None = None):
    """The Ibis DuckDB connection. A store another process holds (DuckDB allows one writing process,
    or readers) is waited for: up to `wait` seconds (BTCSTRESS_STORE_WAIT, default 30 for writes and
    0 for reads), then StoreBusyError naming what holds it. A reader waits at most READ_GRACE seconds
    and then reads the store's read copy, when there is one (see this module's docstring)."""
    if wait is None:
        wait = getattr(_WAIT, "seconds", None)
    if wait is None:
        wait = float(os.environ.get("BTCSTRESS_STORE_WAIT", 0 if read_only else 30))
    if read_only:
        wait = max(wait, READ_GRACE)
    started = time.monotonic()
    deadline = started + wait
    while True:
        try:
            return ibis.duckdb.connect(database=str(path), read_only=read_only)
        except Exception as exc:  # duckdb raises IOException when another process holds the lock
            msg = str(exc)
            if "lock" not in msg.lower():
                first = msg.splitlines()[0] if msg else str(exc)
                raise InputError(f"--db {path}: cannot open {'' if read_only else 'or create '}the store ({first})") \
                    from None
            if read_only and time.monotonic() - started >= READ_GRACE:
                con = open_read_copy(path, _holder(msg))
                if con is not None:
                    con._btcstress_read_copy = True
                    return con
            if time.monotonic() >= deadline:
                raise StoreBusyError(f"store {path.name} is held by another process{_holder(msg)}"
                                     f"{f' (waited {wait:g} s)' if wait else ''}: try again when it has finished, "
                                     "or set BTCSTRESS_STORE_WAIT to wait longer") from None
            time.sleep(0.05)


_WAIT = threading.local()


@contextlib.contextmanager
def connect_wait(seconds: float):
    """Within this block, Store() waits up to `seconds` for a busy store (the monitor's batches)."""
    old = getattr(_WAIT, "seconds", None)
    _WAIT.seconds = seconds
    try:
        yield
    finally:
        _WAIT.seconds = old


def _holder(msg: str) -> str:
    """' (btcstress monitor, pid 123)' from DuckDB's lock message, when the process can be named."""
    import re
    m = re.search(r"PID (\d+)", msg)
    if not m:
        return ""
    try:
        cmd = Path(f"/proc/{m[1]}/cmdline").read_bytes().split(b"\0")
        words = [w.decode(errors="replace") for w in cmd if w]
        verbs = ("ingest", "monitor", "serve", "mcp", "export", "cite", "findings", "report", "check", "scenario",
                 "quality", "history", "stress", "episodes", "lint-brief", "quarantine")
        verb = next((w for w in words if w in verbs), None)
        what = f"btcstress {verb}" if verb else Path(words[0]).name if words else "a process"
    except OSError:
        what = "a process"
    return f" ({what}, pid {m[1]})"


class StoreBusyError(BtcstressError):
    """Another process holds the store for writing."""

    exit_code = 1
