"""`btcstress ingest live` and the `make demo` fallback, end to end against a loopback stand-in for the
public sources (tests/connectors/fakevenues.py: synthetic answers in each documented format)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcstress.cli import app
from btcstress.store import Store
from tests.connectors import fakevenues

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def fake(tmp_path):
    srv, base = fakevenues.start()
    cfg = tmp_path / "btcstress.yaml"
    cfg.write_text(fakevenues.config(base))
    yield srv, cfg
    srv.shutdown()
    srv.server_close()


def test_ingest_live_fetches_every_source_and_a_second_run_adds_nothing(tmp_path, fake, monkeypatch):
    from btcstress import ingest
    from btcstress.history import materialize
    srv, cfg = fake
    db = tmp_path / "live.duckdb"
    args = ["--db", str(db), "--config", str(cfg), "ingest", "live"]
    refreshes = []
    real = materialize.refresh
    monkeypatch.setattr(materialize, "refresh", lambda *a, **k: refreshes.append(1) or real(*a, **k))
    commits = []
    real_run = ingest.run
    monkeypatch.setattr(ingest, "run", lambda *a, **k: commits.append(1) or real_run(*a, **k))
    r = CliRunner().invoke(app, args, env={"COLUMNS": "200"})  # every column of the summary table
    assert r.exit_code == 0, r.output
    # each source commits page by page; the derived state is refreshed once, after the last page, and is
    # then current for everything stored
    assert len(commits) > 5 and len(refreshes) == 1, (len(commits), len(refreshes))
    with Store(db, read_only=True) as s:
        assert materialize.fresh_areas(s) == set(materialize.MATERIALISED)
    for word in ("binance", "mempool", "farside", "edgar", "gaps filled"):
        assert word in r.output
    with Store(db, read_only=True) as s:
        c = s.counts()
    assert c["candles"] >= 3 * 24 and c["network_daily"] >= 3 * 4 and c["etf_flows"] == 2
    assert c["treasury_holdings"] == 1 and c["derivatives_daily"] >= 3
    r2 = CliRunner().invoke(app, args)
    assert r2.exit_code == 0, r2.output
    with Store(db, read_only=True) as s:
        again = s.counts()
    # every data table unchanged (only the run log grows)
    assert {k: v for k, v in again.items() if k != "ingest_log"} == {k: v for k, v in c.items() if k != "ingest_log"}


def test_a_failing_source_is_reported_and_the_others_are_stored(tmp_path, fake):
    srv, cfg = fake
    text = cfg.read_text().replace('mempool: {url: "', 'mempool: {url: "http://127.0.0.1:9/nothing', 1)
    cfg.write_text(text)
    r = CliRunner().invoke(app, ["--db", str(tmp_path / "x.duckdb"), "--config", str(cfg), "ingest", "live",
                                 "--sources", "mempool,farside"])
    assert r.exit_code == 1 and "mempool: FetchError" in r.output
    with Store(tmp_path / "x.duckdb", read_only=True) as s:
        assert s.counts()["etf_flows"] == 2


def test_bad_sources_and_since_exit_2(tmp_path):
    for args in (["--sources", "nasdaq"], ["--since", "2999-01-01"], ["--since", "yesterday"]):
        r = CliRunner().invoke(app, ["--db", str(tmp_path / "x.duckdb"), "ingest", "live", *args])
        assert r.exit_code == 2, (args, r.output)


def test_make_demo_without_the_snapshot_ingests_live_and_writes_the_brief_as_of_now(tmp_path, fake):
    srv, cfg = fake
    out = tmp_path / "out"
    env = {**os.environ, "BTCSTRESS_CONFIG": str(cfg), "NO_PROXY": "127.0.0.1,localhost",
           # anything not pointed at the fake would go through a dead proxy and fail, not reach the internet
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9"}
    env.pop("BTCSTRESS_DB", None)
    r = subprocess.run(["make", "-s", "demo", f"SNAPSHOT={tmp_path / 'no-snapshot'}", f"DB={tmp_path / 'demo.duckdb'}",
                        f"OUT={out}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fetching the last two years live" in r.stdout
    assert (out / "brief.html").is_file() and (out / "brief.json").is_file()
    today = dt.datetime.now(dt.timezone.utc)
    assert f"brief as of {today:%Y-%m-%d}" in r.stdout  # as of now, not the snapshot's 2026-02-06
    assert any(p.startswith("/api/v3/klines") for p in srv.seen)
