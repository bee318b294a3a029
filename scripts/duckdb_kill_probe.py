"""Probe: does `kill -9` of a process that writes small DuckDB batches ever leave a corrupt or wrong file?

Cheaper than the crash soak (plain DuckDB in the child, no CLI start-up, no websocket), so it can kill
hundreds of times a minute. The child writes the live monitor's pattern: open the file, one transaction
per batch (an upsert by primary key with ANTI JOIN, like Store.upsert), close; either as the monitor did
(`--policy close`: every close checkpoints) or as it does now (`--policy wal`: batches stay in the WAL,
an explicit CHECKPOINT every `--every` batches). The parent kills it at a random instant, then opens
the file as a reader would and checks that the rows are exactly batches 0..k-1 (each batch is atomic:
never a partial batch, never a duplicate), then as the next writer would (explicit CHECKPOINT).

    python scripts/duckdb_kill_probe.py --kills 300 --policy close --work /tmp/probe
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROWS = 7  # rows per batch, like `--batch 7` in the crash soak

CHILD = r'''
import sys, duckdb
db, policy, every, start, ROWS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
b = start
while True:
    con = duckdb.connect(db)
    if policy == "wal":
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("CREATE TABLE IF NOT EXISTS ev (batch BIGINT, i BIGINT, venue VARCHAR, side VARCHAR, "
                "qty DOUBLE, price DOUBLE, ts TIMESTAMP, origin VARCHAR, PRIMARY KEY (batch, i))")
    con.execute("CREATE TABLE IF NOT EXISTS gaps (batch BIGINT PRIMARY KEY, note VARCHAR)")
    con.execute("BEGIN TRANSACTION")
    con.execute("CREATE TEMP TABLE IF NOT EXISTS s AS SELECT * FROM ev LIMIT 0")
    con.execute("DELETE FROM s")
    con.execute(f"INSERT INTO s SELECT {b}, i, 'binance', 'SELL', 0.001 * i, 90000 + i, "
                f"TIMESTAMP '2026-02-06' + INTERVAL (i) SECOND, 'stream:' || repeat('x', 40) FROM range({ROWS}) t(i)")
    con.execute("INSERT INTO ev SELECT s.* FROM s ANTI JOIN ev t ON s.batch = t.batch AND s.i = t.i")
    con.execute(f"INSERT OR REPLACE INTO gaps VALUES ({b}, 'batch {b}')")
    con.execute("COMMIT")
    if policy == "wal" and b % every == 0:
        con.execute("CHECKPOINT")
    con.close()
    b += 1
    if b == start + 1:
        print("writing", flush=True)
'''


def check(db: Path) -> int:
    """Open as a reader, then as the next writer; the number of whole batches stored. Raises on a
    corrupt file or on rows that are not exactly batches 0..k-1."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT batch, count(*), count(DISTINCT i) FROM ev GROUP BY batch ORDER BY batch").fetchall()
        gaps = con.execute("SELECT count(*) FROM gaps").fetchone()[0]
    finally:
        con.close()
    k = len(rows)
    if [r[0] for r in rows] != list(range(k)) or any(n != ROWS or d != ROWS for _, n, d in rows) or gaps != k:
        raise AssertionError(f"not whole batches 0..{k - 1}: {rows[-3:]} gaps={gaps}")
    con = duckdb.connect(str(db))
    try:
        con.execute("CHECKPOINT")
        con.execute("SELECT sum(qty), count(*) FROM ev").fetchall()  # read every block back
    finally:
        con.close()
    return k


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=300)
    ap.add_argument("--policy", choices=("close", "wal"), default="close")
    ap.add_argument("--every", type=int, default=50, help="with --policy wal: checkpoint every N batches")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--work", type=Path, required=True, help="a new folder, kept (to examine a failure)")
    a = ap.parse_args()
    a.work.mkdir(parents=True)
    rng = random.Random(a.seed)
    db = a.work / "probe.duckdb"
    stored, t0 = 0, time.monotonic()
    for n in range(1, a.kills + 1):
        p = subprocess.Popen([sys.executable, "-c", CHILD, str(db), a.policy, str(a.every), str(stored), str(ROWS)],
                             stdout=subprocess.PIPE, text=True)
        if p.stdout.readline().strip() != "writing":  # one batch written: the file exists
            p.wait()
            print(f"the writer failed to start (exit {p.returncode})", flush=True)
            return 2
        time.sleep(rng.uniform(0.0, 0.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
        try:
            stored = check(db)
        except Exception as exc:  # noqa: BLE001 - the finding this probe looks for
            print(f"FAILURE after kill {n} ({a.policy}): {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            return 1
        if n % 25 == 0:
            print(f"{n} kills ({a.policy}), {stored} batches stored, 0 failures, {time.monotonic() - t0:.0f} s",
                  flush=True)
    print(f"done: {a.kills} kills ({a.policy}), {stored} batches, 0 failures", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
