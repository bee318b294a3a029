"""Leave-one-out calibration of `at_risk_share_of_oi`: a day's scenario never uses a share fitted on it.

The default share (params.DEFAULTS, 0.16) is the geometric mean of realized / modelled long
liquidations over the backtest's crash days (metrics/scenario_backtest.py). A brief as of T within
EXCLUDE_DAYS after one of those days (the crash and the days that describe it) uses instead the share
fitted on the other days, so its scenario is out of sample. The shares below are the backtest's own
output (regenerate with `python benchmarks/scenario_backtest.py`, which prints them;
tests/scenario/test_backtest.py recomputes them and fails when they drift).
"""

from __future__ import annotations

import datetime as dt

# Fitted on all six days except the key (geometric mean of realized / raw over the other five).
LOO_SHARES = {
    "2020-03-12": 0.1071,
    "2021-05-19": 0.1359,
    "2022-11-09": 0.1868,
    "2024-08-05": 0.2121,
    "2025-10-10": 0.1745,
    "2026-02-05": 0.1780,
}
EXCLUDE_DAYS = 2  # a calibration day D is "that day" for as-of instants in [D 00:00, D+2 24:00)


def share_at(t: dt.datetime, default: float) -> tuple[float, str | None]:
    """The share a scenario as of `t` uses, and the calibration day it leaves out (None: the default)."""
    day = t.date()
    for d, share in LOO_SHARES.items():
        if 0 <= (day - dt.date.fromisoformat(d)).days <= EXCLUDE_DAYS:
            return share, d
    return default, None
