"""Findings as of one instant served from finding_history (history.served): on the grid each stored
finding equals what metrics.compute gives at that instant, a stale or off-grid question is computed and
says so, and the CLI, the API (a real loopback server) and the Python API say per area which way it went."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict

import httpx
import pytest
from typer.testing import CliRunner

from btcstress import areas as registry
from btcstress import metrics
from btcstress.history import materialize, served
from btcstress.history.calendar import DAY_END
from btcstress.store import Store
from tests.history.test_serving import _bars  # tiny hand-written daily bars

UTC = dt.timezone.utc
# On the grid: day ends across the data (the ETF's first weeks, a quiet day, the crash's day end) and
# hours' ends inside the hourly span (the crash itself).
# A day's instant is DAY_END after 00:00 UTC the next day (D+1 07:00: when D's daily rows are published).
ON_GRID = [dt.datetime(2019, 6, 1, tzinfo=UTC) + DAY_END, dt.datetime(2024, 1, 20, tzinfo=UTC) + DAY_END,
           dt.datetime(2025, 3, 15, tzinfo=UTC) + DAY_END, dt.datetime(2026, 2, 6, tzinfo=UTC) + DAY_END,
           dt.datetime(2026, 2, 6, 8, tzinfo=UTC)]


def _stored_areas(store, t: dt.datetime | None = None) -> tuple[str, ...]:
    """The materialised areas (holding instant t, when given: an area stored daily has no hours' ends)."""
    st = materialize.state(store).set_index("area")
    naive = t.replace(tzinfo=None) if t else None
    return tuple(a for a in registry.names() if a in st.index
                 and (t is None or materialize.covers(st.loc[a], [naive])))


FLAGGED = "computed (a data-quality flag known at this instant"


def _key(f):
    return (f.id, f.subject, f.window, f.kind)


def _same(a, b) -> bool:
    if isinstance(b, float) and isinstance(a, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0) or (a == b)
    return a == b


def _assert_equal(got, want, where: str) -> None:
    """Same findings (id, subject, window, kind, in the same order per id and subject), values to 1e-9
    relative, not-available alike, the same z-scores and percentiles."""
    a, b = defaultdict(list), defaultdict(list)
    for f in got:
        a[_key(f)].append(f)
    for f in want:
        b[_key(f)].append(f)
    assert set(a) == set(b), f"{where}: findings differ: {sorted(set(a) ^ set(b))[:10]}"
    for k in b:
        assert len(a[k]) == len(b[k]), f"{where}: {k}"
        for x, y in zip(a[k], b[k]):
            assert (x.value is None) == (y.value is None), f"{where}: {k} available in one only"
            assert _same(x.value, y.value), f"{where}: {k}: stored {x.value!r}, computed {y.value!r}"
            assert (x.note or "").startswith("not available") == (y.note or "").startswith("not available"), k
            ux, uy = x.unusual or {}, y.unusual or {}
            for s in ("zscore", "percentile"):
                assert _same(ux.get(s), uy.get(s)), f"{where}: {k} {s}: {ux.get(s)} vs {uy.get(s)}"
    order = lambda fs: [(f.id, f.subject, f.window, f.kind) for f in fs]  # noqa: E731
    by_id = lambda fs: {(f.id, f.subject): [k for k in order(fs) if k[:2] == (f.id, f.subject)] for f in fs}  # noqa: E731
    assert by_id(got) == by_id(want), f"{where}: another order within an id and subject (FindingSet.get picks the first)"


@pytest.mark.parametrize("t", ON_GRID, ids=lambda t: t.strftime("%Y-%m-%dT%H"))
def test_stored_findings_equal_the_computed_ones_on_the_grid(store, t):
    assert {"price", "market", "etf", "leverage"} <= set(_stored_areas(store))  # ingest stores them
    stored = _stored_areas(store, t)
    got = served.findings_at(store, t, areas=stored)
    # stored, unless a quality flag known at t may mark the area's findings (then computed, with the mark)
    assert all(got.how[a].startswith(("stored (finding_history", FLAGGED)) for a in stored), got.how
    assert got.how["price"].startswith("stored") and got.how["market"].startswith("stored")
    want = metrics.compute(store, t, areas=registry.closure(stored))
    want = [f for f in want if registry.of_finding(f.id).name in stored]
    assert len(want) > 0
    _assert_equal(list(got.fs), want, t.isoformat())
    # Provenance: a stored value cites the stored row and says so, never source rows it does not have;
    # a cited figure keeps its citation (the same sources, method and detail as computed).
    cited = {_key(f): f for f in want if f.kind == "cited" and f.value is not None}
    for f in got.fs:
        assert f.detail["served"].startswith("stored (finding_history, fresh through")
        if _key(f) in cited:
            w = cited[_key(f)]
            assert f.sources == w.sources and f.method == w.method
            assert {k: v for k, v in f.detail.items() if k != "served"} == json.loads(json.dumps(w.detail, default=str))
            continue
        assert [s.table for s in f.sources] == ["finding_history"] and f.sources[0].rows == 1
        assert f.method == registry.finding(f.id).definition
    # What a reader sees is the same: each value as the CLI prints it (stale marker included), its note
    # (caveats such as "no z-score or percentile: N observations"), unit, kind, and the JSON value's type.
    _assert_seen_alike(got.fs, want, t)
    # served.READERS (which findings a flag on a table can mark) covers every table the computed findings
    # cite, and a "day" reader's source from that table is the window's last day only
    for f in want:
        for x in f.sources:
            if x.table.startswith("package:") or x.table in ("candles", "citations", "events"):
                continue
            how = served.reach(f.id, x.table)
            assert how is not None, (f.id, x.table)
            if how == "day":
                assert x.first == x.last and f.window.endswith(f"{x.last:%Y-%m-%d}"), (f.id, x)


def _assert_seen_alike(got, want, t: dt.datetime) -> None:
    from btcstress.cli.findings import _cells
    seen = lambda fs: {_key(f): ({c: v for c, v in _cells(f, t).items() if c not in ("sources", "as_of")},  # noqa: E731
                                 type(f.value).__name__) for f in fs}
    a, b = seen(got), seen(want)
    diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
    assert not diff, f"{t:%Y-%m-%dT%H:%MZ}: stored and computed read differently: {list(diff.items())[:5]}"


def test_a_stale_value_and_a_short_history_read_as_computed(store):
    """On Monday 1 December 2025 at 07:00 UTC (Sunday's day instant) the newest ETF day is Friday 28 November:
    more than 3 days old, so the CLI marks the ETF values stale ("@11-28"), stored as computed. Twenty One
    Capital's mNAV history is short at the crash: the note says how many observations (counted here from
    the raw valuation rows known by then) and that there is no z-score; the cited figures keep their source."""
    t = dt.datetime(2025, 12, 1, tzinfo=UTC) + DAY_END
    from btcstress.cli.findings import _cells
    got = served.findings_at(store, t)
    assert got.how["etf"].startswith("stored") and got.how["treasuries"].startswith("stored")
    assert got.how["miners"].startswith("stored")
    flow = got.fs.get("etf.net_flow_usd")
    assert flow.window == "1d:2025-11-28" and _cells(flow, t)["value"].endswith(" @11-28")
    assert _cells(flow, t)["note"].startswith("stale: newest data 2025-11-28")
    want = metrics.compute(store, t)
    _assert_seen_alike([f for f in got.fs if f.id.split(".")[0] != "scenario"],
                       [f for f in want if f.id.split(".")[0] != "scenario"], t)
    crash = dt.datetime(2026, 2, 6, tzinfo=UTC) + DAY_END
    naive = crash.replace(tzinfo=None)
    at = served.findings_at(store, crash, areas=("treasuries",))
    assert at.how["treasuries"].startswith("stored")
    m = at.fs.get("treasury.mnav", "Twenty One Capital")
    day = dt.date.fromisoformat(m.window.removeprefix("1d:"))
    n = store.duck.execute(
        "SELECT count(*) FROM treasury_valuation_daily WHERE entity = 'Twenty One Capital' AND measure = 'fd_ev_nav' "
        "AND available_at <= ? AND date <= ? AND date > ?", [naive, day, day - dt.timedelta(days=365)]).fetchone()[0]
    assert 30 <= n < 180  # a short base: the snapshot drops the z-score and says so
    assert m.unusual is None and m.note == f"no z-score or percentile: {n} observations of history (the minimum is 180)"
    assert [s.table for s in m.sources] == ["treasury_valuation_daily"] and m.sources[0].rows == n
    mined = served.findings_at(store, crash, areas=("miners",))
    cost = [f for f in mined.fs if f.id == "miners.published_cost_usd" and f.subject == "CryptoQuant"]
    row = store.duck.execute("SELECT value, url, \"window\" FROM citations WHERE finding_id = 'miners.published_cost_usd' "
                             "AND subject = 'CryptoQuant' AND available_at <= ? ORDER BY as_of DESC", [naive]).fetchone()
    assert cost and cost[0].value == row[0] and cost[0].window == row[2] and row[1] in cost[0].sources[0].origin
    assert cost[0].detail["published"] == row[2].removeprefix("published:") and cost[0].kind == "cited"


def test_a_finding_a_quality_flag_marks_is_never_served_without_the_mark(store):
    """BTC's short liquidations of 8 November 2025 are flagged (a spike on a quiet day): at that day's
    instant the leverage findings of the day carry the mark ("suspect BTC/short_usd on 2025-11-08 ..."),
    which finding_history does not hold, so the area is computed and says why; the mark reads as computed."""
    t = dt.datetime(2025, 11, 9, tzinfo=UTC) + DAY_END
    flag = store.duck.execute("SELECT series FROM quality WHERE series LIKE 'liquidations_daily:BTC/%' AND "
                              "ts = '2025-11-08' AND available_at <= ?", [t.replace(tzinfo=None)]).fetchone()
    assert flag is not None  # the flag the test is about (the quality rules run by ingest)
    got = served.findings_at(store, t, areas=("leverage",))
    assert got.how["leverage"].startswith(FLAGGED)
    total = got.fs.get("liquidations.total_usd", "BTC")
    assert total.window == "1d:2025-11-08" and f"suspect {flag[0].split(':', 1)[1]} on 2025-11-08" in total.note
    _assert_seen_alike(got.fs, metrics.compute(store, t, areas=("leverage",)), t)
    # An area whose tables carry no flag near the instant is still read from finding_history.
    assert served.findings_at(store, t, areas=("market",)).how["market"].startswith("stored")


def test_all_findings_merge_stored_and_computed_areas(store):
    t = dt.datetime(2026, 2, 6, 8, tzinfo=UTC)
    got = served.findings_at(store, t)
    stored = _stored_areas(store)
    assert set(got.how) == set(registry.names())
    daily_only = set(materialize.state(store).query("grid == 'daily'")["area"]) if "grid" in materialize.state(
        store) else set()
    for a, how in got.how.items():
        if how.startswith(FLAGGED):
            continue  # a quality flag known then may mark its findings: computed with the mark
        assert how.startswith("stored") == (a in stored and a not in daily_only), (a, how)  # 08:00: an hour's end
        if a not in stored:
            assert how == "computed (not materialised)"
        elif a in daily_only:
            assert how == "computed (stored at day ends only)"
    _assert_equal(list(got.fs), list(metrics.compute(store, t)), "all areas")
    # the computed areas keep their full derivation
    computed = [f for f in got.fs if not got.how[registry.of_finding(f.id).name].startswith("stored")
                and f.value is not None]
    assert computed and all(s.table != "finding_history" for f in computed for s in f.sources)


def test_derive_price_and_off_grid_compute_and_say_why(store):
    on = dt.datetime(2026, 2, 6, tzinfo=UTC)
    d = served.findings_at(store, on, derive=True, areas=("price",))
    assert d.how == {"price": "computed (derive asked)"}
    assert all(s.table != "finding_history" for f in d.fs for s in f.sources)
    p = served.findings_at(store, on, price=55_000.0, areas=("price",))
    assert p.how == {"price": "computed (hypothetical price)"}
    off = served.findings_at(store, dt.datetime(2026, 2, 5, 13, 30, tzinfo=UTC), areas=("price",))
    assert off.how == {"price": "computed (off the grid)"}


def test_a_stale_materialisation_is_computed_and_says_so(tmp_path):
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(10)]
    t = dt.datetime(2024, 1, 6, tzinfo=UTC) + DAY_END  # 5 January's day instant: its bar closes 40,000 + 4 * 100
    with Store(tmp_path / "s.duckdb") as s:
        s.upsert("candles", _bars(days, 40_000.0), ingested_at=dt.datetime(2026, 1, 1))
        materialize.refresh(s, areas=("price",))
        fresh = served.findings_at(s, t, areas=("price",))
        assert fresh.how["price"].startswith("stored")
        assert fresh.fs.value("price.close_usd") == 40_400.0
        # A revised bar for 5 January without a refresh (as if it had failed): computed, and it says so.
        s.upsert("candles", _bars([dt.date(2024, 1, 5)], 1.0), ingested_at=dt.datetime(2026, 1, 2))
        stale = served.findings_at(s, t, areas=("price",))
        assert stale.how["price"].startswith("computed (finding_history stale")
        assert stale.fs.value("price.close_usd") == 1.0
        materialize.refresh(s, areas=("price",))
        again = served.findings_at(s, t, areas=("price",))
        assert again.how["price"].startswith("stored") and again.fs.value("price.close_usd") == 1.0


def test_cli_findings_says_what_was_served(snapshot_db):
    from btcstress.cli import app
    runner = CliRunner()
    args = ["--db", str(snapshot_db), "findings", "--as-of", "2026-02-06T00:00Z", "--ids", "market.", "--json"]
    body = json.loads(runner.invoke(app, args).stdout)
    assert body["served"]["market"].startswith("stored (finding_history")
    derived = json.loads(runner.invoke(app, [*args, "--derive"]).stdout)
    assert derived["served"] == {"market": "computed (derive asked)"}
    assert [f["value"] for f in body["findings"]] == pytest.approx([f["value"] for f in derived["findings"]],
                                                                  rel=1e-9)
    table = runner.invoke(app, args[:-1])
    assert table.exit_code == 0 and "served: market: stored (finding_history" in " ".join(table.stdout.split())


def test_api_findings_served_on_a_loopback_server(snapshot_db):
    from btcstress.api import create_app
    from tests.api.conftest import serving
    q = {"as_of": "2026-02-06T08:00Z", "ids": "price.,liquidations.,derivatives."}
    with serving(create_app(snapshot_db, config={}, cache_size=64, token=None)) as port:
        base = f"http://127.0.0.1:{port}"
        got = httpx.get(f"{base}/findings", params=q, timeout=120).json()
        derived = httpx.get(f"{base}/findings", params={**q, "derive": "true"}, timeout=120).json()
    assert got["served"]["price"].startswith("stored") and got["served"]["leverage"].startswith("stored")
    assert set(derived["served"].values()) == {"computed (derive asked)"}
    with Store(snapshot_db, read_only=True) as s:
        want = metrics.compute(s, dt.datetime(2026, 2, 6, 8, tzinfo=UTC), areas=("price", "leverage"))
    key = lambda f: (f["id"], f["subject"], f["window"], f["kind"])  # noqa: E731
    want_v = {(f.id, f.subject, f.window, f.kind): f.value for f in want}
    assert {key(f) for f in got["findings"]} == set(want_v) == {key(f) for f in derived["findings"]}
    for f in got["findings"]:
        w = want_v[key(f)]
        assert (f["value"] is None) == (w is None)
        if isinstance(w, float):
            assert f["value"] == pytest.approx(w, rel=1e-9)
        elif w is not None:
            assert f["value"] == w
        assert f["sources"][0]["table"] == "finding_history"
    assert all(s["table"] != "finding_history" for f in derived["findings"] for s in f["sources"])
