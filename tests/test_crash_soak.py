"""The short crash soak (>= 10 `kill -9`s over ingest, export and monitor; the long run is
scripts/crash_soak.py, its figures in docs/RELIABILITY.md). Real CLI subprocesses, real DuckDB files,
a websocket server on 127.0.0.1; the snapshot files are read in place."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_kill_9_anywhere_loses_nothing_duplicates_nothing_and_the_rerun_equals_a_clean_run(tmp_path, snapshot_dir):
    spec = importlib.util.spec_from_file_location("crash_soak", ROOT / "scripts" / "crash_soak.py")
    cs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cs)
    files = ["etf/farside_btc_etf_flows_daily.csv", "network/cryptoquant_btc_hashrate_daily.csv"]
    rep = cs.soak(kills=10, seed=17, work=tmp_path, files=files)
    runs = rep["runs"]
    assert rep["kills"] >= 10  # runs really killed mid-way
    assert set(runs) == {"ingest", "export", "monitor"}
    assert rep["violations"] == []
    assert rep["clean_ingest"]["etf_flows"].split(":")[0] != "0"  # the clean run stored something to compare
