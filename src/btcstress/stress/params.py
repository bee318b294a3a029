"""The stress area's parameters, in one place (`--param stress.NAME=VALUE`, config `params: {stress: ...}`).
The comment beside each is its source or reason (`btcstress params` prints them). Definitions:
docs/METRICS.md#stress."""

from __future__ import annotations

from typing import Any

from btcstress.stress.components import FORCES

DEFAULTS: dict[str, Any] = {
    "history_days": 365,  # trailing calendar days each measure is standardised against (a year: a full cycle of seasonality)
    "min_history": 90,  # fewer days of history: the measure is missing at T (quartiles of fewer days are noise)
    "clip": 8.0,  # |z| cap per measure, so one broken series cannot carry the index alone
    "min_components": 2,  # fewer forces available: the index is not available
    "weights": {f: 1.0 for f in FORCES},  # fixed and equal: no force is known to matter more (a stated choice)
    "start": "2018-01-01",  # first day of the history (chart, episodes' candidates): the derived total market cap starts 2017-07
    "episodes_k": 5,  # episodes shown
    "episodes_gap_days": 30,  # a candidate within this many days of a chosen episode belongs to it (one per crash)
    "episodes_recent_days": 7,  # no candidate from the days just before T (the current episode)
    "episodes_min_shared": 3,  # forces a candidate must share with T to be compared
}
