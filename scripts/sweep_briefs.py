"""Render and lint the brief at the end of every UTC day (and hourly instants) of the store's data.

    python scripts/sweep_briefs.py --db data/btcstress.duckdb [--stride 1] [--hours-stride 0]
                                   [--results out/sweep.jsonl] [--chunk 0/2]
    python scripts/sweep_briefs.py --summary out/sweep.jsonl [more.jsonl ...]

A day's instant is when its daily rows are all published (`--date D`, D+1 07:00 UTC). Each instant's
result (failures, error, seconds) is appended as one JSON line to --results as soon as it is done, so
a sweep cut short keeps what it did and a rerun with the same --results skips the instants already
in it (resume; --redo-failing also redoes those that failed, after a fix). --chunk K/N takes every Nth instant from the Kth: N processes with the same
arguments and K = 0..N-1 (each with its own --results file, or the same one: lines are appended
whole) split a sweep. --summary reads result files and prints the totals (instants, failures by
rule, errors, what was swept). Slow: seconds per brief; run it niced, in the background.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path


def _read(paths: list[str]) -> dict[str, dict]:
    """instant -> its latest result line, over every results file (missing files: none)."""
    done: dict[str, dict] = {}
    for p in paths:
        if not os.path.exists(p):
            continue
        with open(p) as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill: that instant is redone
                    continue
                done[r["instant"]] = r
    return done


def summary(paths: list[str]) -> dict:
    done = _read(paths)
    rules: Counter = Counter()
    days = hours = 0
    for r in done.values():
        rules.update(f["rule"] for f in r["failures"])
        days += r.get("kind") == "day"
        hours += r.get("kind") == "hour"
    first, last = (min(done), max(done)) if done else (None, None)
    return {"instants": len(done), "days": days, "hours": hours, "failures_by_rule": dict(rules),
            "instants_failing": sum(1 for r in done.values() if r["failures"]),
            "errors": sum(1 for r in done.values() if r["error"]),
            "seconds": round(sum(r["seconds"] for r in done.values()), 1), "first": first, "last": last}


def plan(store, a) -> list[tuple[dt.datetime, str]]:
    """The instants of this run, in order: (instant, 'day' | 'hour')."""
    from btcstress.brief import sweep
    picked = set(sweep.days(store)[a.offset::a.stride])
    if a.events:
        picked |= set(sweep.sample(store, 0))  # n=0: only the event and pinned days
    if a.since:
        picked = {d for d in picked if d >= dt.date.fromisoformat(a.since)}
    if a.until:
        picked = {d for d in picked if d <= dt.date.fromisoformat(a.until)}
    out = [] if a.no_days else [(sweep.end_of(d), "day") for d in sorted(picked)]
    if a.hours_stride:
        days = {sweep.end_of(d) for d in sweep.days(store)}  # a day's instant is swept as a day
        lo = dt.datetime.fromisoformat(a.since) if a.since else dt.datetime.min
        hi = dt.datetime.fromisoformat(a.until) + dt.timedelta(days=1) if a.until else dt.datetime.max
        hours = [h for h in sweep.hours(store) if lo < h <= hi]  # the hours closing within the days
        out += [(h.replace(tzinfo=dt.timezone.utc), "hour") for h in hours[a.offset::a.hours_stride]
                if h.replace(tzinfo=dt.timezone.utc) not in days]
    k, n = (int(x) for x in a.chunk.split("/"))
    return out[k::n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="data/btcstress.duckdb")
    ap.add_argument("--stride", type=int, default=1, help="every Nth day (1: every day)")
    ap.add_argument("--offset", type=int, default=0, help="start at this day index (to split a sweep)")
    ap.add_argument("--hours-stride", type=int, default=0, help="also every Nth hourly instant (0: none)")
    ap.add_argument("--events", action="store_true",
                    help="also every named event day and pinned day (sweep.PINNED) not already in the stride")
    ap.add_argument("--since", default=None, help="only days (and hours closing in days) from this UTC day on")
    ap.add_argument("--until", default=None, help="only days (and hours closing in days) up to this UTC day")
    ap.add_argument("--no-days", action="store_true", help="only hourly instants (with --hours-stride)")
    ap.add_argument("--chunk", default="0/1", help="K/N: every Nth instant of the plan from the Kth")
    ap.add_argument("--results", default=None, help="append one JSON line per instant here; skip those in it")
    ap.add_argument("--redo-failing", action="store_true",
                    help="redo the instants whose latest result failed or errored (after a fix); the new line wins")
    ap.add_argument("--summary", nargs="+", default=None, metavar="RESULTS", help="only summarise result files")
    a = ap.parse_args()
    if a.summary:
        print(json.dumps(summary(a.summary), indent=1))
        return 0

    from btcstress.brief.lint import lint_at
    from btcstress.store import Store
    done = _read([a.results]) if a.results else {}
    if a.results:
        Path(a.results).parent.mkdir(parents=True, exist_ok=True)
    out = open(a.results, "a") if a.results else None
    import subprocess
    here = Path(__file__).resolve().parent
    code = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=here).stdout.strip() or None  # which code linted it
    if code and subprocess.run(["git", "status", "--porcelain", "--", "../src"], capture_output=True, text=True,
                               cwd=here).stdout.strip():
        code += "+uncommitted"  # the source differs from that commit: the record must not claim it
    failing = errors = ran = 0
    with Store(a.db, read_only=True) as store:
        if a.redo_failing:
            done = {k: r for k, r in done.items() if not (r["failures"] or r["error"])}
        todo = [(t, kind) for t, kind in plan(store, a) if t.isoformat() not in done]
        print(f"{len(todo)} instants to do ({len(done)} already in {a.results})", flush=True)
        for t, kind in todo:
            start = time.perf_counter()
            failures, error = [], None
            try:
                _, failures = lint_at(store, t)
            except Exception as exc:  # noqa: BLE001 - a brief that cannot be written is a result, not hidden
                error = f"{type(exc).__name__}: {exc}"
            rec = {"instant": t.isoformat(), "kind": kind, "seconds": round(time.perf_counter() - start, 2),
                   "failures": [{"rule": f.rule, "text": str(f)} for f in failures], "error": error, "code": code,
                   "as_written": True}  # the brief as `report` writes it, with its series (since session 6)
            if out:
                out.write(json.dumps(rec) + "\n")
                out.flush()
            ran += 1
            failing += bool(failures)
            errors += bool(error)
            print(f"{t:%Y-%m-%dT%H:%MZ} {'ok' if not failures else f'{len(failures)} failures'}"
                  f"{' ERROR ' + error if error else ''} ({rec['seconds']} s)", flush=True)
            for f in failures:
                print(f"  {f}", flush=True)
    if out:
        out.close()
        print(json.dumps(summary([a.results])))
    print(f"this run: {ran} instants, {failing} failing, {errors} errors")
    return 1 if failing or errors else 0


if __name__ == "__main__":
    sys.exit(main())
