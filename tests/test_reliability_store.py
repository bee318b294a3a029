"""Issue 17, "data lost or reported stored when it was not": each defect found by probing, as a test.

Rows are tiny and written here by hand in each source's format; expected counts follow from them.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import partial

import duckdb
import pytest
from typer.testing import CliRunner

from btcstress import ingest
from btcstress.cli import app
from btcstress.schema import TABLES
from btcstress.parsers import cq_network, cryptoquant
from btcstress.store import RewriteError, Store, _ddl

runner = CliRunner()

BINANCE_LINE = ('{"e":"forceOrder","E":1770364800100,"o":{"s":"BTCUSDT","S":"SELL","ap":"62000.5","z":"0.010",'
                '"T":1770364800000}}')


def _events_file(tmp_path, lines=(BINANCE_LINE,)):
    f = tmp_path / "binance.jsonl"
    f.write_text("\n".join(lines) + "\n")
    return f


# -- a non-DuckDB --db ------------------------------------------------------------------------------

def test_a_db_path_that_is_not_a_duckdb_file_is_refused_and_left_untouched(tmp_path):
    csv_file = tmp_path / "X.csv"
    csv_file.write_text("date,value\n2026-02-05,1\n")
    before = csv_file.read_bytes()
    r = runner.invoke(app, ["--db", str(csv_file), "ingest", "events", str(_events_file(tmp_path)), "--venue",
                            "binance"])
    assert r.exit_code == 2, r.output
    assert "not a DuckDB store" in r.output and "new" not in r.output
    assert csv_file.read_bytes() == before
    # read commands too
    r = runner.invoke(app, ["--db", str(csv_file), "quarantine"])
    assert r.exit_code == 2 and "not a DuckDB store" in r.output


def test_an_empty_file_and_a_folder_as_db_are_refused(tmp_path):
    empty = tmp_path / "empty.duckdb"
    empty.write_bytes(b"")
    for db in (empty, tmp_path):
        r = runner.invoke(app, ["--db", str(db), "ingest", "events", str(_events_file(tmp_path)), "--venue",
                                "binance"])
        assert r.exit_code == 2, r.output


# -- schema creation ----------------------------------------------------------------------------------

def test_schema_creation_is_one_transaction(tmp_path, monkeypatch):
    """A failure (a kill) after the 4th CREATE TABLE leaves no table, not 4 of them."""
    import btcstress.store as store_mod
    made = []

    def failing_ddl(t, temp=False):
        if len(made) == 4:
            raise KeyboardInterrupt("killed")
        made.append(t.name)
        return _ddl(t, temp)

    monkeypatch.setattr(store_mod, "_ddl", failing_ddl)
    db = tmp_path / "s.duckdb"
    with pytest.raises(KeyboardInterrupt):
        Store(db)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == 0
    con.close()


def test_a_partial_store_reads_as_empty_tables_and_is_completed_by_the_next_write(tmp_path):
    db = tmp_path / "partial.duckdb"
    con = duckdb.connect(str(db))
    for name in list(TABLES)[:4]:  # what a kill during the first ingest used to leave
        con.execute(_ddl(TABLES[name]))
    con.close()
    r = runner.invoke(app, ["--db", str(db), "quarantine"])
    assert r.exit_code == 0, r.output
    with Store(db, read_only=True) as s:
        assert s.table("liquidations").count().execute() == 0
        assert set(s.counts()) >= {"liquidations", "value_history"}
    with Store(db) as s:  # a write open repairs the file itself
        pass
    con = duckdb.connect(str(db), read_only=True)
    n = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'").fetchone()[0]
    con.close()
    assert n == len(TABLES)


# -- export ---------------------------------------------------------------------------------------------

@pytest.fixture()
def small_db(tmp_path):
    db = tmp_path / "small.duckdb"
    r = runner.invoke(app, ["--db", str(db), "ingest", "events", str(_events_file(tmp_path)), "--venue", "binance"])
    assert r.exit_code == 0, r.output
    return db


def test_export_never_deletes_a_file_it_did_not_write(tmp_path, small_db):
    wh = tmp_path / "wh"
    assert runner.invoke(app, ["--db", str(small_db), "export", "parquet", str(wh)]).exit_code == 0
    mine = wh / "liquidations" / "notes.txt"
    mine.write_text("my notes")
    r = runner.invoke(app, ["--db", str(small_db), "export", "parquet", str(wh)])
    assert r.exit_code == 2, r.output
    assert "did not write" in r.output
    assert mine.read_text() == "my notes"
    assert list((wh / "liquidations").rglob("*.parquet"))  # the earlier export is intact too


def test_export_refuses_a_folder_that_is_not_its_own(tmp_path, small_db):
    user = tmp_path / "photos"
    (user / "liquidations").mkdir(parents=True)
    (user / "liquidations" / "cat.jpg").write_bytes(b"\xff\xd8")
    r = runner.invoke(app, ["--db", str(small_db), "export", "parquet", str(user)])
    assert r.exit_code == 2, r.output
    assert (user / "liquidations" / "cat.jpg").read_bytes() == b"\xff\xd8"
    assert not (user / "_btcstress.json").exists()


def test_export_rewrites_its_own_folder_and_cleans_its_own_leftovers(tmp_path, small_db):
    wh = tmp_path / "wh"
    assert runner.invoke(app, ["--db", str(small_db), "export", "parquet", str(wh)]).exit_code == 0
    leftover = wh / f".liquidations.{'a' * 32}"  # an export killed mid-table
    (leftover / "month=2026-02").mkdir(parents=True)
    (leftover / "month=2026-02" / "data_0.parquet").write_bytes(b"x")
    assert runner.invoke(app, ["--db", str(small_db), "export", "parquet", str(wh)]).exit_code == 0
    assert not leftover.exists()
    manifest = json.loads((wh / "_btcstress.json").read_text())
    assert manifest["tables"]["liquidations"]["rows"] == 1
    assert "/" not in manifest["store"]  # a name, not an absolute path


# -- truncation, rewrites ----------------------------------------------------------------------------------

def _hashrate_file(tmp_path, values, cut=False):
    lines = ["date,Hashrate"] + [f"2026-01-{i + 1:02d},{v}" for i, v in enumerate(values)]
    text = "\n".join(lines) + ("" if cut else "\n")
    f = tmp_path / "hashrate.csv"
    f.write_text(text)
    return f


HASHRATE = partial(cq_network.parse_metric, target="network_daily", metric="hashrate_hs", column="Hashrate",
                   scale=1e9, sign="positive")


def test_a_file_cut_mid_line_quarantines_its_last_line(tmp_path):
    full = ["860000000000.5", "861000000000.25", "862000000000.0"]
    f = _hashrate_file(tmp_path, full[:2] + ["86"], cut=True)  # the last value cut after 2 characters
    with Store(tmp_path / "s.duckdb") as s:
        rep = ingest.run(s, [(f, "t/hashrate.csv", HASHRATE)], allow_quarantine=True)
        stored = sorted(s.table("network_daily").value.execute().tolist())
        q = s.table("quarantine").execute()
    assert stored == [float(full[0]) * 1e9, float(full[1]) * 1e9]
    assert rep.lines_in == 3 and rep.quarantined == 1
    assert q.line.tolist() == [4] and "cut" in q.reason[0]


def test_a_complete_file_without_a_final_line_break_keeps_a_closed_last_field(tmp_path):
    text, cut = ingest.split_cut_line('a,b\n1,"x"')
    assert cut is None and text == 'a,b\n1,"x"'
    text, cut = ingest.split_cut_line("a,b\n1,2\n3,4")
    assert cut == (3, "3,4") and text == "a,b\n1,2\n"


def _ohlcv(tmp_path, rows, name="cq.csv"):
    f = tmp_path / name
    f.write_text("date,Open,High,Low,Close,Volume\n" + "".join(f"{d},{o},{h},{lo},{c},{v}\n" for d, o, h, lo, c, v in rows))
    return f


def _bars(n):
    start = dt.date(2025, 1, 1)
    return [((start + dt.timedelta(days=i)).isoformat(), 100 + i, 110 + i, 90 + i, 105 + i, 1000) for i in range(n)]


def test_a_reingest_with_swapped_columns_is_refused_and_nothing_changes(tmp_path):
    bars = _bars(200)
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        ingest.run(s, [(_ohlcv(tmp_path, bars), "cq.csv", cryptoquant.parse_ohlcv)])
    swapped = [(d, c, h, lo, o, v) for d, o, h, lo, c, v in bars]  # open <-> close: still valid bars
    f2 = _ohlcv(tmp_path, swapped, "cq2.csv")
    with Store(db) as s:
        with pytest.raises(RewriteError) as e:
            ingest.run(s, [(f2, "cq.csv", cryptoquant.parse_ohlcv)])
        assert "200 of the 200" in str(e.value) and "--allow-rewrite" in str(e.value)
        assert sorted(s.table("candles").open.execute().tolist()) == sorted(float(b[1]) for b in bars)
        assert s.table("value_history").count().execute() == 0
        # asked for: applied, and every old value kept
        ingest.run(s, [(f2, "cq.csv", cryptoquant.parse_ohlcv)], allow_rewrite=True)
        h = s.table("value_history").execute()
        assert sorted(s.table("candles").open.execute().tolist()) == sorted(float(b[4]) for b in bars)
    assert len(h) == 2 * 200  # open and close of every bar
    first = h[(h.column == "open") & h.key.str.contains("2025-01-01")].iloc[0]
    assert (float(first.old_value), float(first.new_value)) == (100.0, 105.0)
    assert first.old_origin == "cq.csv" and len(first.run_id) == 12


def test_a_small_revision_is_accepted_with_its_history(tmp_path):
    bars = _bars(200)
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        ingest.run(s, [(_ohlcv(tmp_path, bars), "cq.csv", cryptoquant.parse_ohlcv)])
        revised = list(bars)
        d, o, h, lo, c, v = revised[-1]
        revised[-1] = (d, o, h, lo, c - 1, v)  # the source corrected its last close
        ingest.run(s, [(_ohlcv(tmp_path, revised, "cq2.csv"), "cq.csv", cryptoquant.parse_ohlcv)])
        hist = s.table("value_history").execute()
    assert hist[["column", "old_value", "new_value"]].values.tolist() == [["close", str(float(c)), str(float(c - 1))]]


def test_etf_reingest_with_two_funds_swapped_needs_allow_rewrite(tmp_path):
    days = [dt.date(2025, 3, 3) + dt.timedelta(days=i) for i in range(20)]
    ok = "date,IBIT,FBTC,Total\n" + "".join(f"{d},{i + 1}.0,{-i - 0.5},{0.5}\n" for i, d in enumerate(days))
    swapped = "date,FBTC,IBIT,Total\n" + "".join(f"{d},{i + 1}.0,{-i - 0.5},{0.5}\n" for i, d in enumerate(days))
    db, f = tmp_path / "s.duckdb", tmp_path / "farside.csv"
    f.write_text(ok)
    args = ["--db", str(db), "ingest", "etf", str(f), "--published-at", "2025-04-01T00:00Z"]
    assert runner.invoke(app, args).exit_code == 0
    f.write_text(swapped)
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and "--allow-rewrite" in r.output, r.output
    r = runner.invoke(app, args + ["--allow-rewrite"])
    assert r.exit_code == 0, r.output
    with Store(db, read_only=True) as s:
        h = s.table("value_history").execute()
    assert len(h) == 2 * 20 and set(h.column) == {"net_flow_usd"}


def test_an_ingest_waits_for_a_busy_store_and_then_names_what_holds_it(tmp_path, monkeypatch):
    import subprocess
    import sys
    import time

    from btcstress.store import StoreBusyError
    db = tmp_path / "s.duckdb"
    Store(db).close()
    hold = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}, "
                             "read_only=True); print('held', flush=True); time.sleep(4)"], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert hold.stdout.readline().strip() == "held"
        monkeypatch.setenv("BTCSTRESS_STORE_WAIT", "0.5")
        with pytest.raises(StoreBusyError) as e:
            Store(db)
        assert "held by another process" in str(e.value) and "BTCSTRESS_STORE_WAIT" in str(e.value)
        monkeypatch.setenv("BTCSTRESS_STORE_WAIT", "60")  # long enough: the holder lets go after 4 s
        r = runner.invoke(app, ["--db", str(db), "ingest", "events", str(_events_file(tmp_path)), "--venue",
                                "binance"])
        assert r.exit_code == 0, r.output
    finally:
        hold.kill()
    with Store(db, read_only=True) as s:
        assert s.table("liquidations").count().execute() == 1
