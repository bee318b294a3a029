"""Market findings: total value wiped on the crash day, dominance, sentiment."""

from __future__ import annotations

import pytest

from btcstress import metrics
from tests.conftest import CRASH, utc


def test_total_market_value_fell_about_311_billion_on_february_5(crash_findings):
    fs = crash_findings
    change = fs.get("market.total_cap_change_usd")
    assert change.window == "1d:2026-02-05" and change.value == pytest.approx(-311e9, rel=0.01)
    assert change.unusual["zscore"] < -3
    assert fs.value("market.total_cap_usd") == pytest.approx(2.144e12, rel=0.01)


def test_fear_greed_of_the_day_is_known_at_its_start(crash_findings):
    fs = crash_findings
    fng = fs.get("market.fear_greed")
    assert fng.value == 9 and fng.detail["label"] == "Extreme Fear" and fng.window == "1d:2026-02-06"


def test_btc_dominance_and_cap_are_the_last_complete_day(crash_findings):
    fs = crash_findings
    assert 50 < fs.value("market.btc_dominance_pct") < 70
    assert fs.get("market.btc_cap_usd").window == "1d:2026-02-05"


def test_before_the_total_series_starts_it_is_not_available(store):
    fs = metrics.compute(store, utc(2017, 1, 1))
    f = fs.get("market.total_cap_usd")
    assert f.value is None and f.note.startswith("not available")
