"""Serving histories: finding_history is refreshed incrementally by ingest and read only when fresh;
the CLI, the API and the Python API give the same rows as the engine computes."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from btcstress import history
from btcstress.history import materialize, serve
from btcstress.store import Store

runner = CliRunner()


def _bars(days: list[dt.date], close0: float) -> pa.Table:
    """Tiny hand-written daily bars (a made-up series: close0, close0+100, ...)."""
    opens = [dt.datetime(d.year, d.month, d.day) for d in days]
    closes = [close0 + 100 * i for i in range(len(days))]
    return pa.table({"venue": ["cryptoquant"] * len(days), "symbol": ["BTC-USD"] * len(days),
                     "interval": ["1d"] * len(days), "open_time": opens, "open": closes,
                     "high": [c + 50 for c in closes], "low": [c - 50 for c in closes], "close": closes,
                     "volume": [1.0] * len(days), "origin": ["test"] * len(days)})


def test_refresh_recomputes_only_from_the_earliest_changed_instant(tmp_path):
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(30)]
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert("candles", _bars(days, 40_000.0), ingested_at=dt.datetime(2026, 1, 1))
        first = materialize.refresh(s)
        assert first["price"]["from"] is None and first["price"]["instants"] > 0  # a full build
        again = materialize.refresh(s)
        assert again["price"]["instants"] == 0  # nothing changed, nothing recomputed
        # Revise day 20's bar: only instants from its publication (day 21 00:00) on are recomputed; the
        # first grid instant from then is day 21's 07:00 (day instants are D+1 07:00, docs/DATA.md).
        revised = _bars(days, 40_000.0).slice(20, 1).set_column(7, "close", pa.array([1.0]))
        s.upsert("candles", revised, ingested_at=dt.datetime(2026, 1, 2))
        inc = materialize.refresh(s)
        assert inc["price"]["from"] == dt.datetime(2024, 1, 22)
        stored = materialize.read(s, ["price.close_usd"], dt.datetime(2024, 1, 1), dt.datetime(2024, 3, 1))
        full = history.compute(s, sorted(stored["as_of"].dt.to_pydatetime()), areas=("price",)).rows
        full = full[full["id"] == "price.close_usd"].reset_index(drop=True)
        pd.testing.assert_series_equal(stored["value"], full["value"], check_names=False)
        at = stored.set_index("as_of")["value"]
        assert at[pd.Timestamp("2024-01-22 07:00")] == 1.0 and at[pd.Timestamp("2024-01-21 07:00")] == 40_000.0 + 1900


def test_a_change_refreshes_only_the_areas_that_read_its_table(tmp_path):
    # A cite (a row of `citations`, as `btcstress cite add` stores it) changes the leverage and miners
    # histories only: the others are not recomputed, stay served as stored, and equal the engine.
    from btcstress import ingest
    from btcstress.parsers import citations
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(30)]
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert("candles", _bars(days, 40_000.0), ingested_at=dt.datetime(2026, 1, 1))
        materialize.refresh(s)
        tables = materialize.state(s).set_index("area")["tables"].map(lambda v: set(v.split(",")))
        assert "candles" in tables["price"] and "citations" not in tables["price"]
        assert {"candles", "etf_flows", "liquidations_daily"} <= tables["stress"]  # its query's tables
        assert "citations" in tables["leverage"] and "citations" in tables["miners"]
        assert {"candles", "etf_flows"} <= tables["etf"]  # with the price's tables: it reads the price area
        cite = citations.single({"finding": "liquidations.total_usd", "subject": "crypto", "value": "2.1e9",
                                 "unit": "USD", "as_of": "2024-01-20T06:00Z", "window": "24h",
                                 "source": "a hand-made aggregator", "url": None, "note": None})
        report = ingest.run(s, [(None, "cite:test", cite)])
        done = report.history
        assert {a for a, d in done.items() if d["instants"]} == {a for a, t in tables.items() if "citations" in t}
        assert done["leverage"]["from"] == dt.datetime(2024, 1, 20, 6)  # from the cite's instant on
        assert materialize.fresh_areas(s) == set(materialize.MATERIALISED)  # all served as stored
        t0, t1 = dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 31)
        for area, fid in (("leverage", "liquidations.total_usd"), ("price", "price.close_usd")):
            ans = serve.answer(s, [fid], t0, t1)
            assert ans.how[area].startswith("stored")
            full = history.compute(s, sorted(ans.rows["as_of"].dt.to_pydatetime()), areas=(area,)).rows
            full = full[full["id"] == fid].reset_index(drop=True)
            got = ans.rows[ans.rows["id"] == fid].reset_index(drop=True)
            pd.testing.assert_series_equal(got["value"], full["value"], check_names=False)
        stored = materialize.read(s, ["liquidations.total_usd"], t0, t1)
        assert (stored["kind"] == "cited").any()  # the cite is in the stored leverage history


def test_a_stale_materialisation_is_not_served(tmp_path):
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(10)]
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert("candles", _bars(days, 40_000.0), ingested_at=dt.datetime(2026, 1, 1))
        materialize.refresh(s)
        t0, t1 = dt.datetime(2024, 1, 3), dt.datetime(2024, 1, 8)
        assert serve.answer(s, ["price.close_usd"], t0, t1).how["price"].startswith("stored")
        # New rows without a refresh (as if the refresh had failed): computed, and it says so.
        s.upsert("candles", _bars([dt.date(2024, 1, 3)], 1.0), ingested_at=dt.datetime(2026, 1, 2))
        ans = serve.answer(s, ["price.close_usd"], t0, t1)
        assert ans.how["price"] == "computed (series)"
        assert ans.rows.set_index("as_of")["value"][pd.Timestamp("2024-01-04 07:00")] == 1.0


def test_stored_rows_equal_computed_rows_on_the_snapshot(store):
    t0, t1 = dt.datetime(2025, 12, 1), dt.datetime(2026, 2, 6, 8)
    ans = serve.answer(store, ["price.change_1d_pct", "market.total_cap_usd"], t0, t1, "1h")
    assert set(ans.how.values()) == {"stored (finding_history)"}
    fresh = history.compute(store, sorted(set(ans.rows["as_of"].dt.to_pydatetime())), areas=("price", "market")).rows
    fresh = fresh[fresh["id"].isin(["price.change_1d_pct", "market.total_cap_usd"])]
    a = ans.rows.sort_values(["as_of", "id"]).reset_index(drop=True)
    b = fresh.sort_values(["as_of", "id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_cli_history_table_fits_80_columns_and_csv_has_numbers(snapshot_db, tmp_path):
    from btcstress.cli import app
    r = runner.invoke(app, ["--db", str(snapshot_db), "history", "price.close_usd", "--from", "2026-01-20",
                            "--to", "2026-02-06"])
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert max(len(ln) for ln in lines) <= 80
    assert any("2026-02-06T07:00Z" in ln and "1d:2026-02-05" in ln for ln in lines)
    out = tmp_path / "h.csv"
    r = runner.invoke(app, ["--db", str(snapshot_db), "history", "price.close_usd", "--from", "2026-01-20",
                            "--to", "2026-02-06", "--csv", str(out)])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    # a bare day is the instant its rows are published: 2026-01-21T07:00Z .. 2026-02-07T07:00Z, one a day
    assert df["value"].dtype == "float64" and len(df) == (dt.date(2026, 2, 6) - dt.date(2026, 1, 20)).days + 1
    r = runner.invoke(app, ["--db", str(snapshot_db), "history", "--all", "--from", "2026-02-05", "--to",
                            "2026-02-06", "--json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert {"price.close_usd", "market.fear_greed", "etf.net_flow_usd"} <= {x["id"] for x in body["rows"]}
    assert body["how"]["etf"] == "stored (finding_history)"  # series-first and materialised by the ingest
    others = [history.area_name(m) for m in history.area_modules() if not history.series_first(m)]
    assert all("fallback" in body["how"][a] for a in others if a in body["how"])


@pytest.fixture()
def client(snapshot_db):
    from fastapi.testclient import TestClient

    from btcstress.api import create_app
    with TestClient(create_app(snapshot_db, config={}, cache_size=64, token=None), base_url="http://127.0.0.1") as c:
        yield c


def test_api_history_equals_the_engine(client, snapshot_db):
    r = client.get("/history", params={"id": "market.total_cap_change_usd", "from": "2026-01-01",
                                       "to": "2026-02-06", "every": "1d"})
    assert r.status_code == 200, r.text
    body = r.json()
    with Store(snapshot_db, read_only=True) as s:
        from btcstress import config as cfg  # bare days are those days' ends, as the API reads them
        want = serve.answer(s, ["market.total_cap_change_usd"], cfg.parse_instant("2026-01-01"),
                            cfg.parse_instant("2026-02-06")).rows
    assert [x["value"] for x in body["rows"]] == pytest.approx(want["value"].tolist(), rel=1e-12)
    assert client.get("/history", params={"id": "nope.x", "from": "2026-01-01"}).status_code in (400, 404)


def test_python_api(snapshot_db):
    import btcstress
    with btcstress.open(snapshot_db) as bs:
        assert bs.store.read_only
        f = bs.findings("2026-02-06T08:00Z")
        assert f["value"].dtype == "float64"
        h = bs.history("price.close_usd", start="2026-02-01", end="2026-02-06")
        assert isinstance(h.index, pd.DatetimeIndex) and str(h.index.tz) == "UTC"
        assert h["value"].dtype == "float64"
        assert h.loc["2026-02-06 07:00Z", "value"] == f.loc[f["id"] == "price.close_usd", "value"].iloc[0]
