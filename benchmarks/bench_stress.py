"""Speed of the stress index and its episodes (targets: daily history 2018-2026 <= 5 s; episodes <= 1 s).

Times, in one run on the same store (wall clock and this process's CPU time, which includes DuckDB's
threads; on a shared machine the wall clock also counts waiting for a core):
- the index's daily history 2018-01-01 -> 2026-02-05 (`stress.index.history`: one set-based query),
  warm, and as the first call of a process (query compiled by Ibis, or read from the disk cache);
- against a fair hand-written pandas version of the same numbers (each measure loaded once, sorted,
  rolling 365-day median and quartiles, the value at each day-end found with `searchsorted`), and the
  largest difference between the two (they agree wherever no value was revised or flagged);
- the stress findings as of one instant (`findings --as-of`'s path for the area);
- `episodes --as-of 2026-02-06T08:00Z --top 5`: the day-end history through T plus the nearest
  search and the forward returns (what the command runs).

    .venv/bin/python benchmarks/bench_stress.py --db data/btcstress.duckdb [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from btcstress.metrics import stress  # noqa: E402
from btcstress.store import Store  # noqa: E402
from btcstress.stress import index  # noqa: E402
from btcstress.stress.components import MEASURES  # noqa: E402

FIRST, LAST = dt.date(2018, 1, 1), dt.date(2026, 2, 5)
AS_OF = dt.datetime(2026, 2, 6, 8, tzinfo=dt.timezone.utc)


def timed(fn, repeat: int):
    best_wall, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        best_wall, best_cpu = min(best_wall, time.perf_counter() - w), min(best_cpu, time.process_time() - c)
    return out, best_wall, best_cpu


def pandas_history(store: Store) -> pd.DataFrame:
    """The same scores the way a competent pandas user would compute them (no per-instant joins)."""
    p = index.DEFAULTS
    instants = pd.to_datetime(index.end_of_days(FIRST, LAST))
    rows = []
    for m in MEASURES:
        df = m.build(store).execute()
        if "valid_until" in df:  # a value flagged or superseded is dropped (the final picture)
            df = df[df.valid_until.isna()]
        df = df.sort_values(["date", "available_at"]).drop_duplicates("date", keep="last")
        s = pd.Series(df.value.to_numpy(float), index=pd.to_datetime(df.date))
        roll = s.rolling(f"{p['history_days']}D", closed="left")
        stats = pd.DataFrame({"v": s, "med": roll.median(), "q25": roll.quantile(0.25), "q75": roll.quantile(0.75),
                              "n": roll.count()})
        avail = pd.to_datetime(df.available_at).to_numpy()
        order = np.argsort(avail, kind="stable")
        # the latest day published by each instant: searchsorted on publication times (sorted once)
        pos = np.searchsorted(avail[order], instants.to_numpy(), side="right") - 1
        ok = pos >= 0
        idx = np.where(ok, order[np.clip(pos, 0, None)], 0)
        days = s.index.to_numpy()[idx]
        fresh = ok & ((instants.normalize() - pd.to_datetime(days)).days <= m.stale_days)
        st = stats.iloc[idx]
        scale = (st.q75.to_numpy() - st.q25.to_numpy()) / index.IQR_TO_SIGMA
        z = m.sign * (st.v.to_numpy() - st.med.to_numpy()) / np.where(scale > 0, scale, np.nan)
        z = np.clip(z, -p["clip"], p["clip"])
        z = np.where(fresh & (st.n.to_numpy() >= p["min_history"]), z, np.nan)
        rows.append(pd.DataFrame({"t": instants, "measure": m.name, "force": m.force, "z": z}))
    return pd.concat(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="data/btcstress.duckdb")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    store = Store(args.db, read_only=True)
    store.ibis.raw_sql("SET enable_progress_bar = false")
    # The first call in a fresh process with no compiled query on disk pays Ibis's compile (~1.5 s CPU).
    import os
    import tempfile
    os.environ["BTCSTRESS_CACHE"] = tempfile.mkdtemp(prefix="btcstress-bench-")
    index._SQL.clear()
    _, w_cold, c_cold = timed(lambda: index.history(store, FIRST, LAST), 1)
    index._SQL.clear()
    _, w_disk, c_disk = timed(lambda: index.history(store, FIRST, LAST), 1)
    (comb, measures), w_hist, c_hist = timed(lambda: index.history(store, FIRST, LAST), args.repeat)
    base, w_pd, c_pd = timed(lambda: pandas_history(store), args.repeat)
    mine = measures.dropna(subset=["z"]).set_index(["t", "measure"]).z
    theirs = base.dropna(subset=["z"]).set_index(["t", "measure"]).z
    both = mine.index.intersection(theirs.index)
    diff = (mine.loc[both] - theirs.loc[both]).abs()
    _, w_one, c_one = timed(lambda: stress.findings_series(store, [AS_OF]), args.repeat)
    eps, w_eps, c_eps = timed(lambda: stress.episodes(store, AS_OF, k=5), args.repeat)
    print(f"stress index daily history {FIRST}..{LAST} ({comb.t.nunique()} day-ends, {len(measures)} measure rows): "
          f"{w_hist:.2f} s wall, {c_hist:.2f} s CPU (target <= 5 s)")
    print(f"  first call in a process: {w_cold:.2f} s wall, {c_cold:.2f} s CPU with the query compiled; "
          f"{w_disk:.2f} s wall, {c_disk:.2f} s CPU with it read from the disk cache")
    print(f"pandas baseline (rolling + searchsorted): {w_pd:.2f} s wall, {c_pd:.2f} s CPU; "
          f"ratio {w_hist / w_pd:.2f}x wall")
    print(f"  agreement: {len(both)} scores in both, {int((diff > 1e-9).sum())} differ by > 1e-9 "
          f"(max {diff.max():.3g}); only in btcstress {len(mine.index.difference(theirs.index))}, only in pandas "
          f"{len(theirs.index.difference(mine.index))}")
    print(f"stress findings as of {AS_OF:%Y-%m-%dT%H:%MZ}: {w_one:.2f} s wall, {c_one:.2f} s CPU")
    print(f"episodes --top 5 as of {AS_OF:%Y-%m-%dT%H:%MZ}: {w_eps:.2f} s wall, {c_eps:.2f} s CPU (target <= 1 s); "
          f"{', '.join(f.value for f in eps if f.id == 'stress.episode')}")


if __name__ == "__main__":
    main()
