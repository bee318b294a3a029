"""The liquidation model against realized crash-day long liquidations (docs/METRICS.md, Scenario:
backtest). Pinned loosely, to the order of magnitude, so that regressions show."""

from __future__ import annotations

import math

import pytest

from btcstress.scenario import backtest
from btcstress.scenario.params import DEFAULTS


@pytest.fixture(scope="module")
def result(snapshot_db):
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        return backtest.run(s)


def test_the_backtest_covers_six_crash_days_with_real_shocks(result):
    rows = {r.day: r for r in result["rows"]}
    assert set(rows) == set(backtest.CRASH_DAYS)
    assert rows["2026-02-05"].shock_pct == pytest.approx(62277.35 / 73007.18 * 100 - 100, abs=0.1)
    assert rows["2026-02-05"].realized_usd == pytest.approx(0.688e9, rel=0.01)
    assert rows["2020-03-12"].shock_pct < -40


def test_the_raw_model_is_within_a_factor_of_30_of_realized(result):
    for r in result["rows"]:
        assert 1 / 30 < r.raw_ratio < 30, r


def test_the_calibrated_model_is_within_an_order_of_magnitude(result):
    for r in result["rows"]:
        assert 0.1 <= r.calibrated_usd / r.realized_usd <= 10, r
        assert 0.05 <= r.loo_usd / r.realized_usd <= 20, r
    assert result["male_loo"] < math.log(5)  # out of sample: within x5 on average (docs: x3.2)


def test_the_default_share_at_risk_is_the_fitted_one(result):
    # The default is fitted on these days (documented); refit and update docs if this fails.
    assert result["fitted_share"] == pytest.approx(DEFAULTS["at_risk_share_of_oi"], abs=0.01)
