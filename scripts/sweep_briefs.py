"""Render and lint the brief at the end of every UTC day (and hourly instants) of the store's data.

    python scripts/sweep_briefs.py --db data/btcstress.duckdb [--stride 1] [--hours-stride 0]
                                   [--out sweep.json]

Prints one line per failing instant and a summary (instants, failures by rule, seconds). Slow: about
4 s per brief on an idle core; run it in the background (`nice`) or with --stride N for every Nth day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from btcstress.brief import sweep
from btcstress.store import Store


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="data/btcstress.duckdb")
    ap.add_argument("--stride", type=int, default=1, help="every Nth day (1: every day)")
    ap.add_argument("--offset", type=int, default=0, help="start at this day index (to split a sweep)")
    ap.add_argument("--hours-stride", type=int, default=0, help="also every Nth hourly instant (0: none)")
    ap.add_argument("--events", action="store_true",
                    help="also every named event day and pinned day (sweep.PINNED) not already in the stride")
    ap.add_argument("--since", default=None, help="only days from this UTC day on (YYYY-MM-DD)")
    ap.add_argument("--out", default=None, help="write the summary and failures as JSON here")
    a = ap.parse_args()
    with Store(a.db, read_only=True) as store:
        picked = set(sweep.days(store)[a.offset::a.stride])
        if a.events:
            picked |= set(sweep.sample(store, 0))  # n=0: only the event and pinned days
        if a.since:
            picked = {d for d in picked if d >= dt.date.fromisoformat(a.since)}
        instants = [sweep.end_of(d) for d in sorted(picked)]
        if a.hours_stride:
            instants += [h.replace(tzinfo=dt.timezone.utc) for h in sweep.hours(store)[a.offset::a.hours_stride]]

        def progress(t, failures):
            # one line per instant, so a sweep cut short still says what it covered
            print(f"{t:%Y-%m-%dT%H:%MZ} {'ok' if not failures else f'{len(failures)} failures'}", flush=True)
            for f in failures:
                print(f"  {f}", flush=True)

        res = sweep.run(store, instants, progress)
    summary = {"instants": res.instants, "failures_by_rule": dict(res.failures), "errors": len(res.errors),
               "seconds": round(res.seconds, 1), "stride": a.stride, "offset": a.offset,
               "hours_stride": a.hours_stride, "events": a.events, "first": instants[0].isoformat() if instants else None,
               "last": instants[-1].isoformat() if instants else None}
    print(json.dumps(summary))
    if a.out:
        with open(a.out, "w") as fh:
            json.dump({**summary, "failed": res.failed, "error_list": res.errors}, fh, indent=1)
    return 1 if res.failures or res.errors else 0


if __name__ == "__main__":
    sys.exit(main())
