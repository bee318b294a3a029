"""The stress area with series (the dashboard's charts, the brief): the findings, the episodes and the
day-end chart come from one day-end history per computation; each must equal what the area's separate
paths give (the one-instant query, the episodes' own history, the index computed per day-end instant)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from btcstress import metrics
from btcstress.metrics import stress
from btcstress.stress import index
from tests.conftest import CRASH, utc

# a day instant, hours of the crash day, the first days of the ETF and mNAV measures, a midnight, before `start`
INSTANTS = [utc(2024, 8, 6, 7), utc(2026, 2, 5, 10), CRASH, utc(2024, 1, 12, 9), utc(2020, 8, 12, 19),
            utc(2025, 1, 1), utc(2018, 1, 2, 0)]


def _dump(fs) -> list[dict]:
    return [f.model_dump() for f in fs]


@pytest.mark.parametrize("at", INSTANTS, ids=lambda t: t.strftime("%Y%m%dT%H"))
def test_with_series_the_findings_and_episodes_are_the_separate_paths(store, at):
    got = metrics.compute(store, at, areas=("stress",), with_series=True)
    alone = stress.findings_series(store, [at])[at.replace(tzinfo=None)]  # the one-instant (exact) query
    ids = {f.id for f in alone}
    assert _dump([f for f in got.findings if f.id in ids]) == _dump(alone)
    without = metrics.compute(store, at, areas=("stress",))
    assert _dump(without.findings) == _dump(alone)
    # the episodes and the highest-since, from their own day-end history (not the computation's frames)
    comb, measures = stress.daily_with(store, at, stress.DEFAULTS)
    want = stress.episodes(store, at, stress.DEFAULTS) + [stress.highest_since(
        comb, at, stress.DEFAULTS, stress._sources(comb.dropna(subset=["index"]), measures))]
    assert _dump([f for f in got.findings if f.id not in ids]) == _dump(want)


@pytest.mark.parametrize("at", [utc(2026, 2, 5, 10), utc(2025, 1, 1), utc(2024, 1, 13, 7)],
                         ids=lambda t: t.strftime("%Y%m%dT%H"))
def test_the_chart_is_the_index_at_each_day_end(store, at, monkeypatch):
    """Every point of `stress.index_daily` is a day-end instant since `start`, before as-of (or as-of itself
    at midnight); at a sample of them the value is the index computed at that instant alone, on the exact
    per-instant path (a calendar of a few instants: nothing shared with the chart's query)."""
    series = metrics.compute(store, at, areas=("stress",), with_series=True).series["stress.index_daily"]
    t = at.replace(tzinfo=None)
    first = dt.date.fromisoformat(stress.DEFAULTS["start"])
    days = [g for g in index.end_of_days(first, t.date()) if g < t] + ([t] if t.time() == dt.time(0) else [])
    x = pd.to_datetime([v.removesuffix("Z") for v in series.x])
    assert set(x) <= set(days) and len(x) > 0.9 * len(days)
    monkeypatch.setattr(index, "EXACT_BELOW", 10**6)
    rng = np.random.default_rng(int(at.timestamp()))
    sample = sorted({*rng.choice(len(x), 12, replace=False).tolist(), 0, len(x) - 1})
    alone = stress.findings_series(store, [x[i].to_pydatetime() for i in sample])
    for i in sample:
        f = alone[x[i].to_pydatetime()][0]
        assert f.id == "stress.index" and f.value == series.y[i], x[i]
        assert f.detail["n_components"] == series.extra["n_components"][i], x[i]
    # a day-end missing from the chart is one without the index
    missing = sorted(set(days) - set(x))[:5]
    for t_missing in missing:
        assert stress.findings_series(store, [t_missing])[t_missing][0].value is None, t_missing


def test_day_ends_kept_on_a_read_only_store_equal_the_whole_query(store):
    """On a read-only store `daily_with` reuses the day ends an earlier instant computed (the sweep and the
    dashboard step through hours): at every step of a walk forward within a day, across days, onto a day
    instant and a midnight, and back, its frame equals the one query over all day ends and the instant."""
    assert store.read_only
    walk = [utc(2026, 2, 5, 10), utc(2026, 2, 5, 11), utc(2026, 2, 5, 23), utc(2026, 2, 6), CRASH,
            utc(2026, 2, 7, 7), utc(2026, 2, 9, 15), utc(2026, 2, 6, 3), utc(2025, 6, 1, 12), utc(2026, 2, 6, 4)]
    first = dt.date.fromisoformat(stress.DEFAULTS["start"])
    for at in walk:
        t = at.replace(tzinfo=None)
        grid = [g for g in index.end_of_days(first, (t - dt.timedelta(days=1)).date()) if g < t]
        whole = index.measures_frame(store, [*grid, t], stress.DEFAULTS)
        comb, got = stress.daily_with(store, at, stress.DEFAULTS)
        pd.testing.assert_frame_equal(got, whole, obj=str(at))
        pd.testing.assert_frame_equal(comb, index.combine(whole, stress.DEFAULTS), obj=str(at))
    assert store.kept(("stress:day_ends", repr(sorted((k, repr(v)) for k, v in stress.DEFAULTS.items()))))


def test_the_api_shares_the_kept_day_ends_within_a_store_version(snapshot_db, tmp_path):
    """The API opens the store per request: its opens of one unchanged store file share what they keep, so a
    dashboard stepping through hours reuses the day ends; the answer equals a fresh computation's; a changed
    file (an ingest) starts afresh."""
    import os
    import shutil

    from btcstress.api.service import Service
    from btcstress.store import Store
    db = tmp_path / "copy.duckdb"
    shutil.copy(snapshot_db, db)
    svc = Service(db, cache_size=0)
    key = ("stress:day_ends", repr(sorted((k, repr(v)) for k, v in stress.DEFAULTS.items())))
    svc.findings(utc(2026, 2, 5, 10), series=True)
    kept = svc._kept[1]
    assert kept.get(key)
    at = utc(2026, 2, 5, 11)
    got = svc.findings(at, series=True)
    assert svc._kept[1] is kept  # the same version: the same kept results
    with Store(db, read_only=True) as fresh:
        want = metrics.compute(fresh, at, with_series=True)
    ids = {f.id for f in want if f.id.startswith("stress.")}
    assert _dump([f for f in got if f.id in ids]) == _dump([f for f in want if f.id in ids])
    assert got.series["stress.index_daily"].model_dump() == want.series["stress.index_daily"].model_dump()
    st = db.stat()
    os.utime(db, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # the file changed (as an ingest does)
    svc.findings(utc(2026, 2, 5, 12), series=True)
    assert svc._kept[1] is not kept and svc._kept[1].get(key)
