"""The leverage brief section: words, a table and a chart from findings only."""

from __future__ import annotations

import datetime as dt

from tests.conftest import CRASH

from btcstress import metrics
from btcstress.brief.model import Ref
from btcstress.brief.sections import leverage as section


def _text(p) -> str:
    return "".join(x if isinstance(x, str) else x.text for x in p.parts)


def test_section_states_the_crash_day_with_every_number_tied_to_a_finding(store):
    fs = metrics.compute(store, CRASH, areas=("leverage",), with_series=True)
    s = section.build(fs)
    first = _text(s.paragraphs[0])
    assert first.startswith("On February 5, 2026, $1.36B of leveraged BTC and ETH positions were liquidated")
    assert "76.5% of it from longs (BTC $893.2M, ETH $471.2M)" in first
    refs = [x.finding for x in s.paragraphs[0].parts if isinstance(x, Ref)]
    assert {(f.id, f.subject) for f in refs} >= {("liquidations.total_usd", "BTC+ETH"), ("liquidations.total_usd", "BTC")}
    second = _text(s.paragraphs[1])
    assert "open interest was $22.4B on February 5, 2026 (-8.1% on the day, -24.9% over seven days)" in second
    assert [r[0] for r in s.tables[0].rows] == ["BTC", "ETH", "BTC+ETH"]
    fig = s.charts[0].figure
    assert fig["layout"]["barmode"] == "stack" and len(fig["data"][0]["x"]) == 90
    assert [t["name"] for t in fig["data"]] == ["longs liquidated", "shorts liquidated", "BTC open interest"]
    notes = " ".join(_text(n) for n in s.notes)
    assert "BTC and ETH only" in notes and "largest single liquidation is not available" in notes


def test_no_section_before_the_data_starts(store):
    fs = metrics.compute(store, dt.datetime(2011, 1, 1, tzinfo=dt.timezone.utc), areas=("leverage",), with_series=True)
    assert section.build(fs) is None
