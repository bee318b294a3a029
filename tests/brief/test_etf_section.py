"""The brief's ETF section: words chosen from findings, numbers as the findings give them."""

from __future__ import annotations

import pytest

from btcstress import metrics
from btcstress.brief.model import Ref
from btcstress.brief.sections import etf as section
from tests.conftest import CRASH, utc

FINAL = utc(2026, 2, 6, 18, 0)  # IBIT's usual time for 02-05: the day is final (docs/DATA.md)


def _text(paragraph) -> str:
    return "".join(p.text if isinstance(p, Ref) else p for p in paragraph.parts)


@pytest.fixture(scope="module")
def fs(snapshot_db):
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        return metrics.compute(s, FINAL, areas=("etf",), with_series=True, price=60_000.0)


def test_crash_morning_section_says_preliminary_ibit_not_yet_reported(store):
    first = _text(section.build(metrics.compute(store, CRASH, areas=("etf",), with_series=True)).paragraphs[0])
    assert first.startswith("US spot bitcoin ETFs: net flow of -$258.8M on February 5, 2026 "
                            "(preliminary: IBIT not yet reported)")


def test_section_says_third_straight_day_of_outflows(fs):
    s = section.build(fs)
    first = _text(s.paragraphs[0])
    assert first.startswith("US spot bitcoin ETFs: net flow of -$434.1M on February 5, 2026 (final)")
    assert "the third straight day of outflows, -$1.25B in three days" in first
    assert "Week to date (February 2, 2026 to February 5, 2026): -$689.2M." in first
    refs = {p.finding.id for p in s.paragraphs[0].parts if isinstance(p, Ref)}
    assert {"etf.net_flow_usd", "etf.outflow_streak_days", "etf.outflow_streak_usd", "etf.week_to_date_usd"} <= refs
    second = _text(s.paragraphs[1])
    assert "+$54.3B" in second and "$81.9B" in second and "hypothetical price of $60,000" in second


def test_section_has_stacked_bars_by_fund_and_a_cumulative_line(fs):
    s = section.build(fs)
    bars, line = s.charts
    assert bars.figure["layout"]["barmode"] == "relative"
    names = [t["name"] for t in bars.figure["data"]]
    assert "IBIT" in names and "GBTC" in names and len(bars.figure["data"][0]["x"]) == 30
    assert line.figure["data"][0]["x"][-1] == "2026-02-05"
    assert s.tables[0].rows[0][0] == "IBIT"  # the largest outflow first
