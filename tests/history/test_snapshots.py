"""finding_snapshots: the whole FindingSet (detail, sources, chart series) stored at day instants, read by
the brief only when fresh; anything else computes, and says so."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from btcstress import brief, metrics
from btcstress.brief import render
from btcstress.history import materialize
from btcstress.history import snapshots as snap
from btcstress.history.calendar import DAY_END
from btcstress.store import Store
from tests.history.test_serving import _bars  # tiny hand-written daily bars

UTC = dt.timezone.utc
DAYS = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(30)]  # 2024-01-01 .. 2024-01-30


def instant(day: dt.date) -> dt.datetime:
    """Day D's instant on the grid (what --date D means): D+1 00:00 UTC + DAY_END."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time()) + DAY_END


def dumps(fs) -> list[dict]:
    return [f.model_dump(mode="json") for f in fs]


@pytest.fixture()
def small(tmp_path, monkeypatch):
    """A store of 30 made-up daily bars (closes 40,000, 40,100, ...), nothing stored yet."""
    monkeypatch.setenv(snap.KEEP_ENV, "3")
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        s.upsert("candles", _bars(DAYS, 40_000.0), ingested_at=dt.datetime(2026, 1, 1))
    return path


@pytest.fixture(scope="module")
def served_small(tmp_path_factory):
    """The same 30 bars with finding_history and the newest 3 day instants' snapshots stored, built once
    for the tests that only read it (each snapshot is a whole computation)."""
    path = tmp_path_factory.mktemp("served") / "s.duckdb"
    with Store(path) as s:
        s.upsert("candles", _bars(DAYS, 40_000.0), ingested_at=dt.datetime(2026, 1, 1))
        materialize.refresh(s)
        snap.refresh(s, keep=3)
    return path


def test_a_stored_snapshot_is_what_compute_gives_and_the_brief_is_the_same(snapshot_db, tmp_path):
    """On the real snapshot: stored at the crash day's instant, read back equal to metrics.compute (every
    finding's dump, the series, the parameters used) and the brief built from it renders identically."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(snapshot_db, path)
    t = instant(dt.date(2026, 2, 5)).replace(tzinfo=UTC)
    flagged = instant(dt.date(2025, 11, 8)).replace(tzinfo=UTC)  # a quality flag marks leverage findings there
    with Store(path) as s:
        snap._ddl(s)
        snap.store_at(s, t, "backfill")
        snap.store_at(s, flagged, "backfill")
    with Store(path, read_only=True) as s:
        got, how = snap.load(s, t)
        want = metrics.compute(s, t, with_series=True)
    assert got is not None and how.startswith("stored snapshot (code ")
    assert dumps(got) == dumps(want) and [f.model_dump() for f in got] == [f.model_dump() for f in want]
    assert {k: v.model_dump() for k, v in got.series.items()} == {k: v.model_dump() for k, v in want.series.items()}
    assert got.params == want.params
    b_got, b_want = brief.build(got), brief.build(want)
    assert render.markdown(b_got) == render.markdown(b_want)
    assert render.html(b_got, inline_js=False) == render.html(b_want, inline_js=False)
    # An area finding_history cannot serve because a flag marks it (test_served.py) is read from the
    # snapshot, which was computed with the mark, instead of computed again.
    from btcstress.history import served
    with Store(path, read_only=True) as s:
        got = served.findings_at(s, flagged, areas=("leverage",))
        want = metrics.compute(s, flagged, areas=("leverage",))
    assert got.how["leverage"].startswith("stored snapshot")
    assert any("suspect" in (f.note or "") for f in got.fs) and dumps(got.fs) == dumps(want)


def test_ingest_refresh_stores_the_newest_days_and_restores_what_a_late_row_made_stale(small):
    with Store(small) as s:
        first = snap.refresh(s)
        # The newest bar (2024-01-30) closes 2024-01-31 00:00: the newest 3 day instants are those of the
        # 28th, 29th and 30th.
        assert [r.as_of for r in snap.stored(s)] == [instant(d) for d in DAYS[-3:]] and first["stored"] == 3
        assert snap.refresh(s)["stored"] == 0  # nothing changed: nothing computed
        before = {r.as_of: r for r in snap.stored(s)}
        stamps = dict(s.duck.execute(f"SELECT as_of, stored_at FROM {snap.TABLE}").fetchall())
        # One more day: its instant is stored, the oldest one ingest stored falls out of the newest 3, and
        # the other two stay (the new bar is published after them: fresh, not recomputed).
        s.upsert("candles", _bars([dt.date(2024, 1, 31)], 43_000.0), ingested_at=dt.datetime(2026, 1, 2))
        done = snap.refresh(s)
        now = {r.as_of: r for r in snap.stored(s)}
        assert sorted(now) == [instant(d) for d in [*DAYS[-2:], dt.date(2024, 1, 31)]] and done["stored"] == 1
        kept = dict(s.duck.execute(f"SELECT as_of, stored_at FROM {snap.TABLE}").fetchall())
        assert all(kept[t] == stamps[t] for t in before if t in now)
        # A late revision of the 29th's bar (published 2024-01-30 00:00): the snapshots at or after that are
        # stale and re-stored with the revised close; the 29th's own instant is after it too.
        revised = _bars(DAYS, 40_000.0).slice(28, 1).set_column(7, "close", pa.array([1.0]))
        s.upsert("candles", revised, ingested_at=dt.datetime(2026, 1, 3))
        assert snap.check(s, now[instant(DAYS[28])]) == "data published by that instant ingested since it was stored"
        assert snap.refresh(s)["restored"] == 3
        fs, how = snap.load(s, instant(DAYS[28]))
        assert how.startswith("stored snapshot") and fs.value("price.close_usd") == 1.0


def test_data_published_after_the_instant_keeps_a_backfilled_snapshot_fresh(small):
    with Store(small) as s:
        done = snap.store_range(s, instant(DAYS[5]), instant(DAYS[6]))
        assert done["stored"] == 2 and {r.stored_by for r in snap.stored(s)} == {"backfill"}
        # A revision of the 10th's bar (published the 11th): the 6th's and 7th's instants are before it.
        s.upsert("candles", _bars(DAYS, 40_000.0).slice(10, 1).set_column(7, "close", pa.array([2.0])),
                 ingested_at=dt.datetime(2026, 1, 2))
        assert all(snap.check(s, r) is None for r in snap.stored(s))
        fs, how = snap.load(s, instant(DAYS[6]))
        assert how.startswith("stored snapshot") and fs.value("price.close_usd") == 40_000.0 + 100 * 6
        # A revision of the 7th's bar (DAYS[6], published the 8th 00:00): before the 7th's instant (the
        # 8th 07:00), after the 6th's (the 7th 07:00).
        s.upsert("candles", _bars(DAYS, 40_000.0).slice(6, 1).set_column(7, "close", pa.array([3.0])),
                 ingested_at=dt.datetime(2026, 1, 3))
        rows = snap.stored(s)
        assert [snap.check(s, r) is None for r in rows] == [True, False]
        assert snap.check_all(s, rows) == {r.as_of: snap.check(s, r) for r in rows}  # the batched form agrees
        fs = snap.brief_findings(s, instant(DAYS[6]).replace(tzinfo=UTC))
        assert fs.served.startswith("computed (stored snapshot stale: data published by that instant")
        assert fs.value("price.close_usd") == 3.0
        # ingest's refresh re-stores the stale backfilled ones (and keeps them the user's)
        snap.refresh(s)
        assert {r.as_of: r.stored_by for r in snap.stored(s)}[instant(DAYS[6])] == "backfill"
        assert snap.load(s, instant(DAYS[6]))[0].value("price.close_usd") == 3.0


def test_a_new_quality_flag_known_at_the_instant_makes_it_stale(small):
    with Store(small) as s:
        snap.store_range(s, instant(DAYS[20]), instant(DAYS[20]))
        row = snap.stored(s)[0]
        cols = "series, ts, field, rule, value, compared, reason, origin, available_at, ingested_at"

        def flag(day: int) -> None:  # a flag on the close of DAYS[day], known when that bar closed
            s.duck.execute(f"INSERT INTO quality ({cols}) VALUES ({', '.join('?' * 10)})", [
                "candles:cryptoquant/BTC-USD/1d", dt.datetime.combine(DAYS[day], dt.time()), "close", "jump", 1.0,
                None, "test", "test", dt.datetime.combine(DAYS[day + 1], dt.time()), dt.datetime(2026, 1, 2)])
        flag(24)
        assert snap.check(s, row) is None  # known only after the instant (the 22nd 07:00)
        flag(18)
        assert snap.check(s, row) == "the data-quality flags known at that instant changed since it was stored"
        assert snap.check_all(s, [row]) == {row.as_of: snap.check(s, row)}


def test_a_code_change_makes_it_stale_and_ingest_drops_it(small, monkeypatch):
    with Store(small) as s:
        snap.refresh(s)
        t = instant(DAYS[-1])
        assert snap.load(s, t)[1].startswith("stored snapshot")
        real = materialize.version
        monkeypatch.setattr(materialize, "version", lambda mod: real(mod) + ("x" if mod.__name__.endswith(".price") else ""))
        snap.code_version.cache_clear()
        try:
            fs = snap.brief_findings(s, t.replace(tzinfo=UTC))
            assert fs.served == "computed (stored snapshot stale: code changed since it was stored)"
            new_code = snap.code_version()[0]
            snap.refresh(s)  # drops the old code's snapshots and stores the newest days again
            assert {r.code for r in snap.stored(s)} == {new_code} and len(snap.stored(s)) == 3
        finally:
            snap.code_version.cache_clear()


def test_off_grid_a_price_or_a_parameter_computes_and_says_why(served_small):
    with Store(served_small, read_only=True) as s:
        t = instant(DAYS[-1]).replace(tzinfo=UTC)
        assert snap.brief_findings(s, t).served.startswith("stored snapshot")
        assert snap.brief_findings(s, t + dt.timedelta(hours=1)).served.startswith("computed (not a day instant")
        assert snap.brief_findings(s, t, price=50_000.0).served == "computed (hypothetical price)"
        hypo = snap.brief_findings(s, t, price=50_000.0)
        assert any(f.hypothetical and f.value is not None for f in hypo)  # re-valued at the asked price
        got = snap.brief_findings(s, t, params={"stress": {"min_history": 30}})
        assert got.served == "computed (parameters other than the defaults)"
        assert snap.brief_findings(s, instant(DAYS[5]).replace(tzinfo=UTC)).served.startswith(
            "computed (no snapshot stored at 2024-01-07T07:00:00Z")


def test_report_lint_and_api_say_which(served_small, tmp_path):
    from btcstress.api.service import Service
    from btcstress.brief.lint import lint_at
    from btcstress.cli import app
    small = served_small
    runner = CliRunner()
    r = runner.invoke(app, ["--db", str(small), "report", "--date", str(DAYS[-1]), "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    assert "findings: stored snapshot (code " in " ".join(r.stdout.split())
    assert json.loads((tmp_path / "a" / "brief.json").read_text())["served"].startswith("stored snapshot")
    r = runner.invoke(app, ["--db", str(small), "report", "--as-of", "2024-01-31T08:00Z", "--out", str(tmp_path / "b")])
    assert json.loads((tmp_path / "b" / "brief.json").read_text())["served"].startswith("computed (not a day instant")
    t = instant(DAYS[-1]).replace(tzinfo=UTC)
    with Store(small, read_only=True) as s:
        b, _ = lint_at(s, t, as_written=True)
        computed = brief.build(metrics.compute(s, t, with_series=True))
    assert b.served.startswith("stored snapshot") and render.markdown(b) == render.markdown(computed)
    svc = Service(small, cache_size=0)
    assert svc.findings(t).served.startswith("stored snapshot") and svc.computations == 0
    assert svc.findings(t, stored=False).served == "computed (the stored snapshot not asked)"
    assert svc.computations == 1
    assert svc.served(t, derive=True).how["price"] == "computed (derive asked)"


def test_findings_at_takes_what_finding_history_lacks_from_the_snapshot(served_small):
    """`findings --as-of T` at a day instant: the areas finding_history holds are read from it, the others
    (the scenario ladder, not materialised) from the stored snapshot, as computed; --derive computes."""
    from btcstress import areas as registry
    from btcstress.history import served
    with Store(served_small, read_only=True) as s:
        t = instant(DAYS[-1]).replace(tzinfo=UTC)
        got = served.findings_at(s, t)
        whole = sorted(a for a, h in got.how.items() if h.startswith("stored snapshot"))
        assert whole == sorted(a for a in registry.names() if a not in materialize.MATERIALISED)
        want = metrics.compute(s, t)
        for a in whole:
            mine = [f for f in got.fs if registry.of_finding(f.id).name == a]
            assert mine and dumps(mine) == dumps([f for f in want if registry.of_finding(f.id).name == a])
        derived = served.findings_at(s, t, derive=True)
        assert set(derived.how.values()) == {"computed (derive asked)"}


def test_every_ingest_refreshes_them(tmp_path, monkeypatch):
    """The hook itself: `ingest.run` stores the newest day instants after its commit, and a one-day ingest
    stores that day's instant and drops the one that fell out of the newest 3."""
    from btcstress import ingest
    from btcstress.parsers.common import Parsed
    monkeypatch.setenv(snap.KEEP_ENV, "3")

    def job(days: list[dt.date], close0: float):
        p = Parsed(origin="test/bars.csv")
        for row in _bars(days, close0).to_pylist():
            p.add("candles", row)
        return (None, "test/bars.csv", p)
    with Store(tmp_path / "s.duckdb") as s:
        first = ingest.run(s, [job(DAYS, 40_000.0)])
        assert first.snapshots["stored"] == 3 and [r.as_of for r in snap.stored(s)] == [instant(d) for d in DAYS[-3:]]
        one = ingest.run(s, [job([dt.date(2024, 1, 31)], 43_000.0)])
        assert one.snapshots == {"stored": 1, "restored": 0, "dropped": 1, "cpu_s": one.snapshots["cpu_s"]}
        assert [r.as_of for r in snap.stored(s)] == [instant(d) for d in [*DAYS[-2:], dt.date(2024, 1, 31)]]
        fs, how = snap.load(s, instant(dt.date(2024, 1, 31)))
        assert how.startswith("stored snapshot") and fs.value("price.close_usd") == 43_000.0


def test_the_api_brief_and_findings_say_which(served_small):
    from fastapi.testclient import TestClient

    from btcstress.api import create_app
    small = served_small
    day = "2024-01-31T07:00Z"  # the newest day instant (2024-01-30's)
    with TestClient(create_app(small, config={}, cache_size=0, token=None), base_url="http://127.0.0.1") as c:
        body = c.get("/brief", params={"as_of": day, "format": "json"}).json()
        assert body["served"].startswith("stored snapshot (code ")
        off = c.get("/brief", params={"as_of": "2024-01-31T08:00Z", "format": "json"}).json()
        assert off["served"].startswith("computed (not a day instant")
        served = c.get("/findings", params={"as_of": day}).json()["served"]
        assert served["scenario"].startswith("stored snapshot")  # not in finding_history: from the snapshot
        assert served["price"].startswith("stored (finding_history")
        assert set(c.get("/findings", params={"as_of": day, "derive": "true"}).json()["served"].values()) == {
            "computed (derive asked)"}


def test_the_mcp_brief_says_which_and_equals_the_computed(served_small):
    """The MCP server's brief is served as `report` serves it: at a day instant from the stored snapshot,
    byte-equal to the computed brief; off the grid computed; its first line says which."""
    from btcstress.mcp_server.answers import Answers
    a = Answers(served_small)
    text = a.brief("2024-01-31T07:00Z")  # the newest day instant (2024-01-30's)
    assert "findings: stored snapshot (code " in text.splitlines()[0]
    with Store(served_small, read_only=True) as s:
        want = metrics.compute(s, instant(DAYS[-1]).replace(tzinfo=UTC), with_series=True)
    assert text.split("\n", 1)[1] == render.markdown(brief.build(want))
    assert "findings: computed (not a day instant" in a.brief("2024-01-31T08:00Z").splitlines()[0]
