"""Benchmark: the liquidation cascade over 1M simulated positions, vectorized (numpy) against a
straightforward Python loop over positions (benchmarks/cascade_oracle.py).

Both run the same model on the same random draws: liquidation prices from entry x leverage x
maintenance margin, survivorship along the path, then the cascade of forced selling -> price impact
-> more liquidations to its fixed point, for several scenario prices. Results are asserted equal
(1e-9 relative) before any time is reported. Bars are synthetic (30 daily bars, seeded); the draws
are shared, so only the computation is timed (the vectorized side includes building the sorted book).

Run: .venv/bin/python benchmarks/bench_cascade.py [--positions 1000000] [--repeat 3]
Writes benchmarks/results/cascade.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from btcstress.scenario import book as bk

sys.path.insert(0, str(Path(__file__).parent))
from cascade_oracle import cascade_loop  # noqa: E402  (beside this script)
from btcstress.scenario.params import DEFAULTS

PRICES = (58_000.0, 52_000.0, 45_000.0)  # from a current price of 64,000


def synthetic_bars(seed: int = 7) -> bk.Bars:
    rng = np.random.default_rng(seed)
    close = 80_000 * np.exp(np.cumsum(rng.normal(-0.008, 0.03, 30)))
    high = close * (1 + rng.random(30) * 0.03)
    low = close * (1 - rng.random(30) * 0.03)
    return bk.Bars(low=low, high=high, close=close, weight=rng.random(30) + 0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bars = synthetic_bars()
    current = float(min(bars.low.min(), bars.close[-1]) * 0.999)
    buckets = DEFAULTS["leverage_buckets"]
    kw = dict(buckets=buckets, leverage_scale=1.0, max_leverage=DEFAULTS["max_leverage"],
              maintenance_margin=DEFAULTS["maintenance_margin"], current=current, open_interest_usd=20e9 * 0.16)
    depth = 250e6
    t0 = time.perf_counter()
    draws = bk.draw(bars, buckets, args.positions, seed=DEFAULTS["seed"])
    t_draw = time.perf_counter() - t0
    prices = [current * p / 64_000.0 for p in PRICES]

    def vectorized():
        b = bk.build(bars, draws, **kw)
        return [bk.cascade(b, p, depth) for p in prices]

    def loop():
        return [cascade_loop(bars, draws, price=p, depth_usd_per_pct=depth, **kw) for p in prices]

    vec_times, vec = [], None
    for _ in range(args.repeat):
        t = time.perf_counter()
        vec = vectorized()
        vec_times.append(time.perf_counter() - t)
    t = time.perf_counter()
    lp = loop()  # once: it is slow
    loop_time = time.perf_counter() - t
    for a, b in zip(vec, lp):
        assert a.iterations == b.iterations, (a, b)
        for f in ("price_usd", "direct_usd", "total_usd"):
            x, y = getattr(a, f), getattr(b, f)
            assert abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1.0), (f, x, y)
    v = statistics.median(vec_times)
    result = {
        "positions": args.positions, "scenario_prices": [round(p, 2) for p in prices], "current": round(current, 2),
        "iterations": [c.iterations for c in vec], "cascade_prices": [round(c.price_usd, 2) for c in vec],
        "liquidated_usd": [round(c.total_usd) for c in vec],
        "draw_s": round(t_draw, 3), "vectorized_s": round(v, 3), "vectorized_runs_s": [round(x, 3) for x in vec_times],
        "loop_s": round(loop_time, 3), "ratio": round(loop_time / v, 1),
        "per_cascade_vectorized_s": round(v / len(prices), 3),
        "python": sys.version.split()[0], "numpy": np.__version__, "machine": platform.machine(),
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "cascade.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.positions:,} positions, {len(prices)} scenario prices (cascade iterations {result['iterations']})")
    print(f"  draws (shared, not timed below): {t_draw:.3f} s")
    print(f"  vectorized: {v:.3f} s for all {len(prices)} cascades incl. building the book (median of {args.repeat})")
    print(f"  Python loop over positions: {loop_time:.2f} s")
    print(f"  ratio: {loop_time / v:.0f}x faster; results equal")


if __name__ == "__main__":
    main()
