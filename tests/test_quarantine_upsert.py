"""A re-ingest of a bad row keeps when it was first quarantined (store.quarantine)."""

from __future__ import annotations

from btcstress.store import Store

ROW = {"target": "candles", "file": "snapshot/x.csv", "line": 7, "field": "close", "value": "abc",
       "reason": "not a number", "raw": "2026-02-05,abc"}


def test_the_first_quarantine_time_survives_a_reingest(tmp_path):
    with Store(tmp_path / "q.duckdb") as store:
        store.quarantine([ROW])
        first = store.duck.execute("SELECT available_at FROM quarantine").fetchall()
        store.quarantine([ROW, {**ROW, "line": 8}])  # the same bad row again, and a new one
        rows = store.duck.execute("SELECT line, available_at FROM quarantine ORDER BY line").fetchall()
    assert len(first) == 1 and len(rows) == 2
    assert rows[0] == (7, first[0][0])  # not moved to the second run's time
    assert rows[1][1] >= first[0][0]
