"""Regenerate the scenario liquidation backtest table of docs/METRICS.md ("Scenario: backtest").

    .venv/bin/python benchmarks/scenario_backtest.py [--db data/btcstress.duckdb]

Reads the store (ingest the snapshot first) and prints the Markdown table and the error summary.
"""

from __future__ import annotations

import argparse
import time

from btcstress.metrics import scenario_backtest as backtest
from btcstress.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="data/btcstress.duckdb")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with Store(args.db, read_only=True) as store:
        result = backtest.run(store)
    print(backtest.markdown(result))
    print(f"\n({len(result['rows'])} days in {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
