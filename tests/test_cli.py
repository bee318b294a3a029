"""The commands a user runs, end to end through the real CLI (Typer's runner, real store files)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from btcstress.cli import app
from btcstress.store import Store
from tests.conftest import snapshot_subset

runner = CliRunner()

REQUIRED = {"id", "subject", "value", "unit", "as_of", "window", "kind", "method", "params", "sources"}


def test_ingest_twice_adds_nothing(tmp_path, snapshot_db, snapshot_dir):
    """The first ingest is the session's store (tests/conftest.py runs what `ingest snapshot
    --allow-quarantine` runs: the events job and the snapshot folder's plan), copied: one full ingest
    less in the suite. The second goes through the CLI."""
    db = tmp_path / "s.duckdb"
    shutil.copyfile(snapshot_db, db)
    with Store(db, read_only=True) as s:
        counts = s.counts()
    second = runner.invoke(app, ["--db", str(db), "ingest", "snapshot", str(snapshot_dir), "--allow-quarantine"])
    assert second.exit_code == 0 and " 0 new, 0 updated" in second.output
    with Store(db, read_only=True) as s:
        again = s.counts()
    # The ingest log records each run; every data table is unchanged.
    assert again.pop("ingest_log") == 2 * counts.pop("ingest_log")
    assert again == counts
    assert counts["candles"] > 20000 and counts["events"] > 10


def test_quarantined_rows_make_ingest_exit_nonzero_with_a_summary(tmp_path, snapshot_dir, snapshot_db):
    """The CLI run reads the two snapshot files that have bad rows (a folder of links to them); that no
    other file of the snapshot has any is checked on the session's store, the whole snapshot ingested
    by the same jobs (tests/conftest.py): one full ingest less in the suite."""
    expected = {("snapshot/price/cryptoquant_btc_usd_ohlcv_daily.csv", 5437),
                ("snapshot/price/cryptoquant_btc_usd_ohlcv_daily.csv", 5438),
                # treasuries: GNS and HIVE with negative bitcoin holdings in the DefiLlama snapshot
                ("snapshot/treasury/defillama_dat_institutions_snapshot_2026-04.csv", 86),
                ("snapshot/treasury/defillama_dat_institutions_snapshot_2026-04.csv", 87)}
    folder = snapshot_subset(tmp_path, sorted({f.removeprefix("snapshot/") for f, _ in expected}))
    db = tmp_path / "s.duckdb"
    r = runner.invoke(app, ["--db", str(db), "ingest", "snapshot", str(folder)])
    assert r.exit_code == 1
    assert "quarantined" in r.output and "rows in" in r.output
    with Store(db, read_only=True) as s:  # the good rows are kept, the bad ones are inspectable
        q = s.table("quarantine").execute()
        counts = s.counts()
    assert {(f, int(line)) for f, line in zip(q.file, q.line)} == expected
    assert counts["candles"] > 5000 and counts["treasury_holdings"] > 0
    with Store(snapshot_db, read_only=True) as s:  # the whole snapshot: no other bad row anywhere
        whole = s.table("quarantine").execute()
    assert {(f, int(line)) for f, line in zip(whole.file, whole.line)} == expected


def test_findings_json_has_the_provenance_fields(snapshot_db):
    r = runner.invoke(app, ["--db", str(snapshot_db), "findings", "--as-of", "2026-02-06T08:00Z", "--json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)  # the envelope shared with the API and the MCP server
    assert body["as_of"] == "2026-02-06T08:00:00Z" and body["as_of_basis"] == "given" and body["price"] is None
    out = body["findings"]
    assert out and body["count"] == len(out) and all(REQUIRED <= set(f) for f in out)
    low = next(f for f in out if f["id"] == "price.low_24h_usd")
    assert low["value"] == 60000.0 and low["as_of"] == "2026-02-06T08:00:00Z"
    assert {"table", "origin", "rows", "first", "last"} <= set(low["sources"][0])


def test_date_means_when_that_utc_day_is_published(snapshot_db):
    """--date D is D+1 07:00Z, CryptoQuant's conservative publication time (docs/DATA.md)."""
    r = runner.invoke(app, ["--db", str(snapshot_db), "findings", "--date", "2020-03-12", "--json"])
    assert r.exit_code == 0
    close = next(f for f in json.loads(r.stdout)["findings"] if f["id"] == "price.close_usd")
    assert close["window"] == "1d:2020-03-12" and close["as_of"] == "2020-03-13T07:00:00Z"


@pytest.mark.parametrize("args, message", [
    (["--date", "2030-01-01"], "no price data after"),
    (["--as-of", "yesterday"], "not a timestamp"),
    (["--date", "2026-02-30"], "not a date"),
    (["--as-of", "2026-02-06T08:00Z", "--price", "-5"], "--price must be a positive"),
    (["--as-of", "2026-02-06T08:00Z", "--param", "price.nonsense=1"], "unknown parameter price.nonsense"),
])
def test_bad_questions_exit_2_with_a_clear_message(snapshot_db, args, message):
    r = runner.invoke(app, ["--db", str(snapshot_db), "findings", *args])
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_missing_store_is_a_clear_error(tmp_path):
    r = runner.invoke(app, ["--db", str(tmp_path / "none.duckdb"), "findings", "--date", "2026-02-05"])
    assert r.exit_code == 2 and "ingest snapshot" in r.output
