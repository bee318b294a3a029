"""Classes of lint failure the every-day sweep found (docs/PERFORMANCE.md, "Every day, every brief"),
each fixed where the brief is written and pinned here on hand-made findings."""

from __future__ import annotations

import datetime as dt

from btcstress.brief import fmt
from btcstress.brief.lint import EMPTY
from btcstress.brief.sections import price
from btcstress.findings import Finding, FindingSet

T = dt.datetime(2019, 10, 20, 7, tzinfo=dt.timezone.utc)


def _text(p) -> str:
    return "".join(x if isinstance(x, str) else x.text for x in p.parts)


def _garbled(text: str) -> list[str]:
    return [why for rx, why in EMPTY if rx.search(text)]


def _change(value: float, z: float) -> FindingSet:
    f = Finding(id="price.change_1d_pct", value=value, unit="%", as_of=T, window="1d:2019-10-19",
                detail={"date": "2019-10-19"}, unusual={"zscore": z, "percentile": 50.5, "n": 365, "window_days": 365})
    return FindingSet(T, [f])


def test_a_flat_day_is_called_flat_not_a_rise_of_0_percent():
    # 2019-10-19 (found by the sweep): "Bitcoin rose 0.0% ..., a -0.0σ day".
    text = _text(price.highlights(_change(0.03, -0.02))[0].paragraph)
    assert text.startswith("Bitcoin closed flat on October 19, 2019 (+0.03%), a 0.0σ day")
    assert _garbled(text) == []
    down = _text(price.highlights(_change(-0.049, -0.04))[0].paragraph)
    assert "closed flat" in down and "(-0.05%)" in down
    # A real move still reads as one.
    assert _text(price.highlights(_change(-3.2, -1.4))[0].paragraph).startswith("Bitcoin fell 3.2% on October 19")


def test_a_z_score_that_rounds_to_zero_has_no_sign_and_the_linter_catches_one_that_does():
    assert fmt.sigma(-0.04) == "0.0σ" and fmt.sigma(0.04) == "0.0σ" and fmt.sigma(-0.05) == "-0.1σ"
    assert fmt.sigma(1.26) == "+1.3σ"
    assert _garbled("a -0.0σ day against the past year") == ["a signed zero z-score"]
    assert _garbled("a -0.1σ day") == []
