"""Every day, every brief: build and lint the brief at many instants (docs/METRICS.md, "Brief sweep").

The instants are the end of every UTC day of the price data (2018-01-01 on) and, where hourly bars
exist, hourly instants. `sample` picks a seeded subset that always contains every named event day
(and the days the quality rules are pinned on), for the test suite; `scripts/sweep_briefs.py` runs
the whole set (or a stride of it) and writes the result.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from btcstress.schema import day_published
from btcstress.store import Store

FIRST_DAY = dt.date(2018, 1, 1)
# Days a sample always contains besides the named events: the quality rules' corrupt days and crashes.
PINNED = ("2023-06-21", "2023-07-15", "2026-02-05", "2026-02-06", "2022-11-09", "2024-08-05",
          "2018-05-17")  # 2018-05-17: a low 29 days after the one before (the lowest-since span rule)


def days(store: Store) -> list[dt.date]:
    """Every UTC day from FIRST_DAY to the last complete day of the daily price history."""
    last = store.duck.execute("SELECT max(open_time) FROM candles WHERE interval = '1d'").fetchone()[0]
    if last is None:
        return []
    n = (last.date() - FIRST_DAY).days
    return [FIRST_DAY + dt.timedelta(days=i) for i in range(n)]  # the last daily bar may be partial


def hours(store: Store) -> list[dt.datetime]:
    """The closes of the hourly bars (the instants a live brief could be written at)."""
    rows = store.duck.execute("SELECT DISTINCT open_time + INTERVAL 1 HOUR FROM candles WHERE interval = '1h' "
                              "ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def end_of(day: dt.date) -> dt.datetime:
    """The instant of `--date day`: when all of the day's daily rows are published (schema.day_published)."""
    return day_published(day).replace(tzinfo=dt.timezone.utc)


def event_days(store: Store) -> list[dt.date]:
    return [r[0] for r in store.duck.execute(
        "SELECT DISTINCT date FROM events WHERE date >= ? ORDER BY 1", [FIRST_DAY]).fetchall()]


def sample(store: Store, n: int, seed: int = 16) -> list[dt.date]:
    """n days: every named event day and pinned day in range, the rest drawn at random (seeded)."""
    all_days = days(store)
    have = set(all_days)
    must = sorted({d for d in event_days(store) if d in have} | {dt.date.fromisoformat(d) for d in PINNED} & have)
    rest = sorted(have - set(must))
    extra = random.Random(seed).sample(rest, max(0, n - len(must)))
    return sorted(must + extra)


@dataclass
class Result:
    instants: int = 0
    failures: Counter = field(default_factory=Counter)  # rule -> count
    failed: list[tuple[str, str]] = field(default_factory=list)  # (instant, failure text)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (instant, exception)
    seconds: float = 0.0


def run(store: Store, instants: list[dt.datetime], progress=None) -> Result:
    """Build and lint the brief at each instant; an exception is a result too, never skipped."""
    from btcstress.brief.lint import lint_at
    out = Result()
    start = time.perf_counter()
    for t in instants:
        try:
            _, failures = lint_at(store, t)
        except Exception as exc:  # noqa: BLE001 - a brief that cannot be written is reported, not hidden
            out.errors.append((t.isoformat(), f"{type(exc).__name__}: {exc}"))
            failures = []
        out.instants += 1
        for f in failures:
            out.failures[f.rule] += 1
            out.failed.append((t.isoformat(), str(f)))
        if progress:
            progress(t, failures)
    out.seconds = time.perf_counter() - start
    return out
