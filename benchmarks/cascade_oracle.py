"""The liquidation cascade written as a plain Python loop over positions: the slow oracle the vectorized
model (btcstress.scenario.book) is checked against (tests/scenario/test_book.py) and timed against
(benchmarks/bench_cascade.py). Not part of the package: nothing in btcstress runs it."""

from __future__ import annotations

import math

from btcstress.scenario.book import Bars, Cascade, Draws


def cascade_loop(bars: Bars, draws: Draws, *, buckets: list[list[float]], leverage_scale: float,
                 max_leverage: float, maintenance_margin: float, current: float, open_interest_usd: float,
                 price: float, depth_usd_per_pct: float, tolerance_usd: float = 1.0,
                 max_iterations: int = 200) -> Cascade:
    """The same model as build + cascade, position by position in plain Python (the baseline)."""
    n_bars = len(bars.low)
    later = [0.0] * n_bars
    m = current
    for i in range(n_bars - 1, -1, -1):
        later[i] = m
        m = min(m, float(bars.low[i]))
    liqs = []
    for k in range(len(draws.bar)):
        b = int(draws.bar[k])
        lo, hi = float(bars.low[b]), float(bars.high[b])
        entry = lo + float(draws.u_entry[k]) * (hi - lo)
        blo, bhi, _ = buckets[int(draws.bucket[k])]
        lev = math.exp(math.log(blo) + float(draws.u_lev[k]) * (math.log(bhi) - math.log(blo)))
        lev = min(max(1.0 + (lev - 1.0) * leverage_scale, 1.0), max_leverage)
        liq = entry * (1.0 - 1.0 / lev + maintenance_margin)
        if liq < min(later[b], entry, float(bars.close[b])):
            liqs.append(liq)
    qty = open_interest_usd / current / len(liqs) if liqs else 0.0

    def sold(p: float) -> float:
        s = 0.0
        for liq in liqs:
            if liq >= p:
                s += liq * qty
        return s

    direct = sold(price)
    p, it, converged = price, 0, False
    while it < max_iterations:
        it += 1
        new = price * max(0.0, 1.0 - sold(p) / depth_usd_per_pct / 100.0)
        if abs(new - p) <= tolerance_usd:
            p, converged = new, True
            break
        p = new
    return Cascade(start_usd=price, price_usd=p, direct_usd=direct, total_usd=sold(p), iterations=it,
                   converged=converged)
