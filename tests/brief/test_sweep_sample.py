"""Every day, every brief (sample): the brief at the end of 60 seeded days, every named event day among
them, passes the linter. The full sweep is scripts/sweep_briefs.py (result in docs/METRICS.md).

Each brief is linted as `report` writes it (with its chart series: `lint_at`'s default since session 6),
~1-1.5 s per brief on an idle core, so the sample is over a minute of the suite; its size is the issue's
minimum for that reason. One read-only store serves the whole module, so the stress area's day ends
computed for one day are kept for the next (`Store.keep`), as in the full sweep."""

from __future__ import annotations

import datetime as dt

import pytest

from btcstress.brief import sweep
from btcstress.brief.lint import lint_at

SAMPLE_DAYS = 60


@pytest.fixture(scope="module")
def days(snapshot_db):
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        return sweep.sample(s, SAMPLE_DAYS), sweep.event_days(s)


def test_sample_has_sixty_days_and_every_named_event_day(days):
    chosen, events = days
    assert len(chosen) == SAMPLE_DAYS
    assert {d for d in events if d >= sweep.FIRST_DAY} <= set(chosen)
    assert dt.date(2023, 7, 15) in chosen and dt.date(2023, 6, 21) in chosen


@pytest.fixture(scope="module")
def sample_store(snapshot_db):
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        yield s


@pytest.mark.parametrize("i", range(SAMPLE_DAYS))
def test_brief_on_a_sampled_day_passes_the_linter(sample_store, days, i):
    day = days[0][i]
    _, failures = lint_at(sample_store, sweep.end_of(day))
    assert failures == [], "\n".join(str(f) for f in failures)


def test_the_last_hour_past_the_end_of_the_daily_rows_passes_the_linter(sample_store):
    # The hourly bars run weeks past the daily rows (CryptoQuant's network and flows, the market cap): the
    # hourly sweep as written found the miners' and market values stated there without their day
    # (session 7). The last hour of the data is such an instant; its brief dates them.
    from btcstress.brief import fmt
    from btcstress.schema import last_published_day
    last_hour = sweep.hours(sample_store)[-1]
    last_network = sample_store.duck.execute(
        "SELECT max(date) FROM network_daily WHERE metric = 'hashrate_hs'").fetchone()[0]
    assert (last_published_day(last_hour) - last_network).days >= 2, "the data has no tail past its daily rows"
    brief, failures = lint_at(sample_store, last_hour)
    assert failures == [], "\n".join(str(f) for f in failures)
    miners = next(s for s in brief.sections if s.id == "miners")
    first = "".join(x if isinstance(x, str) else x.text for x in miners.paragraphs[0].parts)
    assert f"on {fmt.long_date(last_network)}, the latest day of network data" in first
    # The headline is the last hour's price, not the composite's weeks-old last close, and says where the
    # daily closes end.
    head = "".join(x if isinstance(x, str) else x.text for x in brief.headline.parts)
    assert f"at {last_hour:%H:%M} UTC on {last_hour:%B} {last_hour.day}" in head and "the daily closes end on" in head
