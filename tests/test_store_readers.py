"""Issue 17, the store lock: readers never block on a running ingest or monitor, a writer waits with
a timeout and names what holds the store, and the live monitor's per-batch writes stay in the WAL
(durable across kill -9) until its periodic and final checkpoints. Real second processes, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from btcstress import store_files
from btcstress.store import Store, StoreBusyError

ROOT = Path(__file__).resolve().parents[1]


def _line(i: int) -> str:
    """One Binance forceOrder message (the documented shape), a distinct event per i."""
    return json.dumps({"e": "forceOrder", "E": 1770364800100 + i, "o": {
        "s": "BTCUSDT", "S": "SELL", "ap": "62000.5", "z": f"0.0{i + 1}", "T": 1770364800000 + i * 1000}})


def _events(path: Path, ids) -> Path:
    path.write_text("".join(_line(i) + "\n" for i in ids))
    return path


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), **extra}


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "btcstress.cli", "--db", str(db), *args], env=_env(),
                          capture_output=True, text=True, timeout=300)


def _count(con) -> int:
    return con.execute("SELECT count(*) FROM liquidations").fetchone()[0]


def _held(db: Path) -> bool:
    """True while another process holds the store's lock (DuckDB refuses even a read-only open)."""
    try:
        duckdb.connect(str(db), read_only=True).close()
        return False
    except duckdb.IOException as exc:
        assert "lock" in str(exc).lower(), exc
        return True


def test_readers_read_the_last_committed_state_while_an_ingest_holds_the_store(tmp_path, caplog):
    db = tmp_path / "s.duckdb"
    first = _cli(db, "ingest", "events", str(_events(tmp_path / "a.jsonl", [0])), "--venue", "binance")
    assert first.returncode == 0, first.stderr
    assert store_files.copy_is_current(db)  # the writer's close left the copy readers will need

    # A second ingest (2 more events) pauses 300 s inside its transaction, after its first file.
    ingest = subprocess.Popen([sys.executable, "-m", "btcstress.cli", "--db", str(db), "ingest", "events",
                               str(_events(tmp_path / "b.jsonl", [1, 2])), "--venue", "binance"],
                              env=_env(BTCSTRESS_TEST_PAUSE_AFTER_FILE="1:300"), stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if _held(db) or ingest.poll() is not None:
                break
            time.sleep(0.05)
        assert ingest.poll() is None and _held(db)

        with Store(db, read_only=True) as s:  # no StoreBusyError: the copy, as committed before the ingest
            assert s.from_copy
            assert s.table("liquidations").count().execute() == 1
        assert "reading its copy" in caplog.text and f"pid {ingest.pid}" in caplog.text

        r = _cli(db, "quarantine")  # a CLI reader in its own process answers too, and says from what
        assert r.returncode == 0 and "reading its copy" in r.stderr, r.stderr

        from fastapi.testclient import TestClient

        from btcstress.api import create_app
        with TestClient(create_app(db), base_url="http://127.0.0.1") as c:
            got = c.get("/health")
        assert got.status_code == 200, got.text

        # A writer waits (here 0.5 s) and then names what holds the store.
        os.environ["BTCSTRESS_STORE_WAIT"] = "0.5"
        try:
            with pytest.raises(StoreBusyError) as e:
                Store(db)
        finally:
            del os.environ["BTCSTRESS_STORE_WAIT"]
        assert f"(btcstress ingest, pid {ingest.pid})" in str(e.value) and "waited 0.5 s" in str(e.value)
        assert ingest.poll() is None  # all of the above happened while the ingest held the store
    finally:
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(timeout=30)

    with Store(db, read_only=True) as s:  # the killed ingest left the store as it was; readers read it
        assert not s.from_copy and s.table("liquidations").count().execute() == 1


def test_a_reader_without_a_copy_still_waits_and_then_says_what_holds_the_store(tmp_path, monkeypatch):
    db = tmp_path / "s.duckdb"
    Store(db).close()
    store_files.copy_path(db).unlink()
    hold = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); "
                             "print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert hold.stdout.readline().strip() == "held"
        monkeypatch.setattr(store_files, "READ_GRACE", 0.2)
        with pytest.raises(StoreBusyError) as e:
            Store(db, read_only=True)
        assert "held by another process" in str(e.value)
    finally:
        hold.kill()
        hold.wait()


def _upsert_one(store: Store, i: int) -> None:
    from btcstress.parsers import binance_force_order
    store.upsert("liquidations", binance_force_order.parse(_line(i) + "\n", f"t/{i}").tables()["liquidations"])


def test_monitor_batches_stay_in_the_wal_until_its_periodic_and_final_checkpoints(tmp_path):
    db = tmp_path / "m.duckdb"
    opener = store_files.BatchOpener(db, every=3600)
    for i in range(3):
        s = opener()
        assert s.keep_wal == (i > 0)  # the first open checkpoints (and refreshes the copy), later ones do not
        _upsert_one(s, i)
        s.close()
        assert store_files.wal_path(db).exists() == (i > 0)
    with Store(db, read_only=True) as s:  # a reader sees every batch (it replays the WAL in memory)
        assert s.table("liquidations").count().execute() == 3
    with Store(db, read_only=True) as s:
        assert s.table("liquidations").count().execute() == 3
    assert store_files.wal_path(db).exists()  # reading never checkpoints
    opener.final()
    assert not store_files.wal_path(db).exists() and store_files.copy_is_current(db)
    with duckdb.connect(str(store_files.copy_path(db)), read_only=True) as c:
        assert _count(c) == 3


def test_a_batch_committed_to_the_wal_survives_kill_9_and_the_next_writer_folds_it_in(tmp_path):
    db = tmp_path / "k.duckdb"
    Store(db).close()
    code = ("import sys, time; sys.path[:0] = [%r, %r]; from btcstress.store import Store; "
            "import tests.test_store_readers as t; s = Store(%r, keep_wal=True); t._upsert_one(s, 7); "
            "print('committed', flush=True); time.sleep(300)") % (str(ROOT / "src"), str(ROOT), str(db))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert p.stdout.readline().strip() == "committed"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    assert store_files.wal_path(db).exists()
    s = Store(db)  # a writer's open folds the WAL into the file and refreshes the copy
    try:
        assert not store_files.wal_path(db).exists() and store_files.copy_is_current(db)
        assert s.table("liquidations").count().execute() == 1
    finally:
        s.close()
