"""The liquidation model against realized crash-day long liquidations (docs/METRICS.md, Scenario:
backtest). Pinned loosely, to the order of magnitude, so that regressions show."""

from __future__ import annotations

import math

import pytest

from btcstress.metrics import scenario_backtest as backtest
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


def test_leave_one_out_shares_are_the_fit_without_each_day(result):
    """calibration.LOO_SHARES: for each backtest day, the geometric mean of realized / raw over the others."""
    from btcstress.scenario import calibration
    logs = {r.day: math.log(r.realized_usd / r.raw_usd) for r in result["rows"]}
    for day in logs:
        others = [v for d, v in logs.items() if d != day]
        assert calibration.LOO_SHARES[day] == pytest.approx(math.exp(sum(others) / len(others)), abs=5e-4)


def test_a_scenario_near_a_calibration_day_never_uses_a_share_fitted_on_it(store):
    from btcstress import metrics
    from btcstress.scenario import calibration
    from tests.conftest import CRASH, utc
    fs = metrics.compute(store, CRASH, areas=("price", "scenario"))
    ladder = fs.get("scenario.ladder")
    assert ladder.params["at_risk_share_of_oi"] == calibration.LOO_SHARES["2026-02-05"]
    assert "without 2026-02-05" in ladder.params["at_risk_share_of_oi_fit"]
    # Far from every calibration day the default (fitted on all six) applies.
    far = metrics.compute(store, utc(2023, 3, 1), areas=("price", "scenario")).get("scenario.ladder")
    assert far.params["at_risk_share_of_oi"] == DEFAULTS["at_risk_share_of_oi"]
    # A user's own value always wins.
    own = metrics.compute(store, CRASH, areas=("price", "scenario"),
                          params={"scenario": {"at_risk_share_of_oi": 0.3}}).get("scenario.ladder")
    assert own.params["at_risk_share_of_oi"] == 0.3
