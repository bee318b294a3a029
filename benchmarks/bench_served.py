"""All findings as of an on-grid instant, in a warm process: served (history/served.py) against computed.

At N on-grid instants (hours' ends around the crash and day instants, D+1 07:00 UTC, a month apart back
from 2026-02-06's),
in one run and one process, the median of:

- `served, materialised areas`: `served.findings_at(store, t, areas=<the areas finding_history holds>)`,
  every area read from the store (the freshness check, the grid check, the read, the Findings built);
- `computed, materialised areas`: `metrics.compute(store, t, areas=closure(those areas))`, the same
  findings computed (the fair baseline: same question, same process, same store);
- `served, all`: `served.findings_at(store, t)`, the stored areas read and the others computed;
- `computed, all`: `metrics.compute(store, t)` (what `findings --as-of` did before).

    .venv/bin/python benchmarks/bench_served.py --db data/btcstress.duckdb [--n 6]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=os.environ.get("BTCSTRESS_DB", str(ROOT / "data" / "btcstress.duckdb")))
    ap.add_argument("--n", type=int, default=6)
    args = ap.parse_args()
    from btcstress import areas as registry
    from btcstress import metrics
    from btcstress.history import materialize, served
    from btcstress.store import Store
    utc = dt.timezone.utc
    hours = [dt.datetime(2026, 2, 6, 8, tzinfo=utc) - dt.timedelta(hours=5 * i) for i in range(args.n // 2)]
    from btcstress.history.calendar import DAY_END  # a day's instant on the grid: D+1 07:00 UTC
    days = [dt.datetime(2026, 2, 6, tzinfo=utc) + DAY_END - dt.timedelta(days=30 * i) for i in range(args.n - len(hours))]
    instants = hours + days
    with Store(args.db, read_only=True) as s:
        fresh = materialize.fresh_areas(s)
        st = materialize.state(s).set_index("area")

        def at(t):  # the fresh areas that hold t (an area stored daily has no hours' ends)
            return tuple(a for a in registry.names() if a in fresh and materialize.covers(st.loc[a], [t.replace(tzinfo=None)]))
        stored = tuple(a for a in registry.names() if a in fresh)
        ways = {
            "served, materialised areas": lambda t: served.findings_at(s, t, areas=at(t)),
            "computed, materialised areas": lambda t: metrics.compute(s, t, areas=registry.closure(at(t))),
            "served, all": lambda t: served.findings_at(s, t),
            "computed, all": lambda t: metrics.compute(s, t),
        }
        ways["served, all"](instants[0])  # imports and first compiles
        out = {}
        for name, fn in ways.items():
            lat = []
            for t in instants:
                t0 = time.perf_counter()
                got = fn(t)
                lat.append(time.perf_counter() - t0)
                if name.startswith("served"):
                    assert all(got.how[a].startswith("stored") for a in at(t)), got.how
            out[name] = {"p50_ms": round(statistics.median(lat) * 1000, 1), "min_ms": round(min(lat) * 1000, 1),
                         "max_ms": round(max(lat) * 1000, 1), "n": len(lat)}
            print(name, json.dumps(out[name]), flush=True)
    print(f"stored areas: {', '.join(stored)}; load average {os.getloadavg()[0]:.1f}")
    for a, b in (("computed, materialised areas", "served, materialised areas"), ("computed, all", "served, all")):
        print(f"{a} / {b}: {out[a]['p50_ms'] / out[b]['p50_ms']:.1f}x")
    res = ROOT / "benchmarks" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / "served.json").write_text(json.dumps({"stored": stored, "instants": [t.isoformat() for t in instants],
                                                 "ways": out, "load": os.getloadavg()[0]}, indent=2))


if __name__ == "__main__":
    main()
