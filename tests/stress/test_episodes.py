"""Episodes: the nearest past instants (hand-computed distances, one per episode) and the rule that an
outcome is "not known yet" until its horizon has ended."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from btcstress.metrics import stress as area
from btcstress.store import Store
from btcstress.stress import episodes as ep
from tests.conftest import utc
from tests.stress.test_index import _caps, _closes

DAY0 = dt.date(2025, 1, 1)


def test_nearest_uses_the_forces_present_at_both_and_one_day_per_episode():
    now = pd.Series({"price": 4.0, "market": 3.0, "miners": 1.0, "etf": np.nan, "leverage": 2.0, "treasuries": np.nan})
    t = pd.to_datetime(["2020-03-12", "2020-03-13", "2021-05-19", "2022-06-13", "2019-01-01"])
    cand = pd.DataFrame({"t": t, "price": [4.0, 4.1, 1.0, 3.0, 0.0], "market": [3.0, 3.0, 1.0, 3.0, 0.0],
                         "miners": [0.5, 1.0, 1.0, np.nan, 0.0], "etf": [9.0, 9.0, 9.0, 9.0, 9.0],
                         "leverage": [np.nan, 2.0, 2.0, 2.0, np.nan], "treasuries": np.nan})
    got = ep.nearest(now, cand, k=3, gap_days=30, min_shared=3)
    # by hand: RMS over the forces present at both (etf is missing now, so it never counts)
    d_0313 = math.sqrt((0.1 ** 2 + 0 + 0 + 0) / 4)  # 2020-03-13: all four shared
    d_0312 = math.sqrt((0 + 0 + 0.25) / 3)  # 2020-03-12: no leverage; within 30 days of 03-13 -> skipped
    d_2021 = math.sqrt((9 + 4 + 0 + 0) / 4)
    d_2022 = math.sqrt((1 + 0 + 0) / 3)  # no miners
    d_2019 = math.sqrt((16 + 9 + 1) / 3)
    assert list(got.t.dt.strftime("%Y-%m-%d")) == ["2020-03-13", "2022-06-13", "2021-05-19"]
    assert got.distance.tolist() == pytest.approx([d_0313, d_2022, d_2021])
    assert d_0312 < d_2022 and d_2019 > d_2021  # 03-12 was near but belongs to the 03-13 episode
    two_shared = ep.nearest(now, cand.assign(miners=np.nan, leverage=np.nan), k=5, gap_days=0, min_shared=3)
    assert two_shared.empty  # only price and market left in common: fewer than 3 shared forces


def test_forward_return_is_not_known_until_its_close_is_published(tmp_path):
    closes = [100.0 + i for i in range(60)]
    with Store(tmp_path / "s.duckdb") as s:
        _closes(s, closes)
        day = pd.Timestamp(DAY0 + dt.timedelta(days=10))
        early = ep.forward(ep.closes(s, utc(2025, 1, 19)), day)  # 8 days after the close of day 10
        late = ep.forward(ep.closes(s, utc(2025, 2, 11)), day)  # the 02-10 close is out at its end
    assert early["1d"]["value"] == pytest.approx((closes[11] / closes[10] - 1) * 100, abs=1e-4)
    assert early["7d"]["status"] == "known" and early["30d"] == {"value": None, "status": ep.NOT_KNOWN,
                                                                  "to": "2025-02-10"}
    assert late["30d"]["value"] == pytest.approx((closes[40] / closes[10] - 1) * 100, abs=1e-4)


def test_episode_outcomes_follow_the_horizon_rule_and_the_summary_is_their_median(tmp_path):
    rng = np.random.default_rng(7)
    closes = list(100 * np.cumprod(1 + rng.normal(0, 0.03, 80)))
    caps = list(1000 * np.cumprod(1 + rng.normal(0, 0.03, 80)))
    with Store(tmp_path / "s.duckdb") as s:
        _closes(s, closes)
        _caps(s, caps)
        at = utc(2025, 3, 20, 6)
        p = {**area.DEFAULTS, "history_days": 10, "min_history": 3, "start": "2025-01-01", "episodes_gap_days": 0,
             "episodes_min_shared": 2, "episodes_recent_days": 7}
        found = area.episodes(s, at, p, k=40)
    eps = [f for f in found if f.id == "stress.episode"]
    assert len(eps) == 40 and [f.detail["distance"] for f in eps] == sorted(f.detail["distance"] for f in eps)
    t = pd.Timestamp(at.replace(tzinfo=None))
    for f in eps:
        day = pd.Timestamp(f.value)
        assert pd.Timestamp(f.detail["instant"].rstrip("Z")) <= t - pd.Timedelta(days=7)
        for h in (1, 7, 30):
            published = day + pd.Timedelta(days=h + 1) <= t  # the later close is out at the end of its day
            fwd = f.detail["forward"][f"{h}d"]
            assert (fwd["status"] == "known") == published
            if published:
                i = (day.date() - DAY0).days
                assert fwd["value"] == pytest.approx((closes[i + h] / closes[i] - 1) * 100, abs=1e-4)
        head = f.detail["headline"]
        i = (day.date() - DAY0).days
        assert head["id"] == "price.change_1d_pct" and head["value"] == pytest.approx(
            (closes[i] / closes[i - 1] - 1) * 100, abs=1e-4)
    for h in (1, 7, 30):
        summary = next(f for f in found if f.id == "stress.episodes.forward_return_pct" and f.window == f"{h}d")
        known = [f.detail["forward"][f"{h}d"]["value"] for f in eps if f.detail["forward"][f"{h}d"]["value"] is not None]
        assert summary.value == pytest.approx(float(np.median(known)), abs=1e-4)
        assert summary.detail["n_not_known"] == len(eps) - len(known)
        assert (summary.detail["min"], summary.detail["max"]) == (min(known), max(known))
    assert any(f.detail["forward"]["30d"]["status"] == ep.NOT_KNOWN for f in eps)  # the rule was exercised
