"""The simulated book of leveraged long positions and the liquidation cascade: pure numpy, no store.

A position is opened in one of the recent bars at an entry price E with leverage L. Isolated margin:
its liquidation price is E x (1 - 1/L + m), m the maintenance margin rate. It is still open now only
if the price never fell to its liquidation price after entry (survivorship: the lows of the later
bars, the current price, and within its own bar the path from E to the bar's close). The surviving
positions share the current long open interest equally (same BTC size each).

Liquidations on the way down from the current price to P are the surviving positions whose
liquidation price is at or above P, each counted at its notional at the liquidation price
(qty x liquidation price, as exchanges report liquidation USD).

The cascade: liquidated longs are market-sold; selling S USD moves the price by S / depth percent
(depth = USD of selling per 1% move, linear impact). Starting at the scenario price P:
    p_{k+1} = P x (1 - S(p_k) / depth / 100),   S(p) = liquidations for liquidation prices >= p,
which falls monotonically to the largest fixed point below P (S only grows as p falls).

Everything is vectorized: sampling, survivorship and the liquidation prices are array operations;
S(p) is one binary search on the sorted liquidation prices and a cumulative sum, so each cascade
step costs O(log N). The same computation written as a plain Python loop over positions (the slow
oracle) is benchmarks/cascade_oracle.py, for the benchmark and the equivalence test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Bars:
    """The bars positions may have been opened in, oldest first."""

    low: np.ndarray
    high: np.ndarray
    close: np.ndarray
    weight: np.ndarray  # relative probability that a position was opened in this bar

    def __post_init__(self) -> None:
        n = len(self.low)
        if not (len(self.high) == len(self.close) == len(self.weight) == n) or n == 0:
            raise ValueError("bars: low, high, close and weight must be non-empty and of one length")


@dataclass(frozen=True)
class Draws:
    """The random draws behind a book (so the vectorized and loop versions see the same positions)."""

    bar: np.ndarray  # index of the entry bar
    u_entry: np.ndarray  # uniform [0, 1): where in [low, high] the entry is
    bucket: np.ndarray  # leverage bucket index
    u_lev: np.ndarray  # uniform [0, 1): where in the bucket (log scale)


def draw(bars: Bars, buckets: list[list[float]], n: int, seed: int) -> Draws:
    rng = np.random.default_rng(seed)
    w = np.asarray(bars.weight, float)
    shares = np.asarray([b[2] for b in buckets], float)
    return Draws(bar=rng.choice(len(w), size=n, p=w / w.sum()), u_entry=rng.random(n),
                 bucket=rng.choice(len(shares), size=n, p=shares / shares.sum()), u_lev=rng.random(n))


@dataclass
class Book:
    """Surviving long positions, sorted by liquidation price (ascending), with cumulative USD."""

    liq_price: np.ndarray  # ascending
    usd_at_liq: np.ndarray  # qty x liquidation price, aligned with liq_price
    cum_usd: np.ndarray  # cum_usd[i] = sum of usd_at_liq[:i] (length n + 1)
    qty_btc: float  # BTC per position
    sampled: int
    survivors: int
    leverage_mean: float  # notional-weighted mean leverage of the survivors
    stats: dict = field(default_factory=dict)

    @property
    def total_usd(self) -> float:
        return float(self.cum_usd[-1])

    def liquidated_usd(self, price: float) -> float:
        """USD liquidated when the price falls to `price` (liquidation prices at or above it)."""
        i = int(np.searchsorted(self.liq_price, price, side="left"))
        return float(self.cum_usd[-1] - self.cum_usd[i])

    def liquidated_count(self, price: float) -> int:
        return int(len(self.liq_price) - np.searchsorted(self.liq_price, price, side="left"))


def leverage(draws: Draws, buckets: list[list[float]], scale: float, max_leverage: float) -> np.ndarray:
    lo = np.log(np.asarray([b[0] for b in buckets], float))[draws.bucket]
    hi = np.log(np.asarray([b[1] for b in buckets], float))[draws.bucket]
    lev = np.exp(lo + draws.u_lev * (hi - lo))
    return np.clip(1.0 + (lev - 1.0) * scale, 1.0, max_leverage)


def build(bars: Bars, draws: Draws, *, buckets: list[list[float]], leverage_scale: float, max_leverage: float,
          maintenance_margin: float, current: float, open_interest_usd: float) -> Book:
    """The surviving book (vectorized)."""
    low, high, close = (np.asarray(a, float) for a in (bars.low, bars.high, bars.close))
    entry = low[draws.bar] + draws.u_entry * (high - low)[draws.bar]
    lev = leverage(draws, buckets, leverage_scale, max_leverage)
    liq = entry * (1.0 - 1.0 / lev + maintenance_margin)
    # Lowest price after each bar: the later bars' lows and the current price.
    later = np.minimum.accumulate(np.append(low, current)[::-1])[::-1][1:]
    path_min = np.minimum(later[draws.bar], np.minimum(entry, close[draws.bar]))
    alive = liq < path_min
    n_alive = int(alive.sum())
    order = np.argsort(liq[alive], kind="stable")
    liq_s = liq[alive][order]
    qty = open_interest_usd / current / n_alive if n_alive else 0.0
    usd = liq_s * qty
    cum = np.concatenate(([0.0], np.cumsum(usd)))
    lev_alive = lev[alive]
    return Book(liq_price=liq_s, usd_at_liq=usd, cum_usd=cum, qty_btc=qty, sampled=len(liq), survivors=n_alive,
                leverage_mean=float(lev_alive.mean()) if n_alive else math.nan,
                stats={"entry_mean_usd": float(entry[alive].mean()) if n_alive else None,
                       "survival_pct": 100.0 * n_alive / len(liq) if len(liq) else None})


@dataclass(frozen=True)
class Cascade:
    start_usd: float  # the scenario price P
    price_usd: float  # the fixed point
    direct_usd: float  # liquidations from the current price down to P
    total_usd: float  # liquidations down to the fixed point
    iterations: int
    converged: bool

    @property
    def extra_move_pct(self) -> float:
        return (self.price_usd / self.start_usd - 1.0) * 100.0


def cascade(book: Book, price: float, depth_usd_per_pct: float, *, tolerance_usd: float = 1.0,
            max_iterations: int = 200) -> Cascade:
    """Iterate forced selling -> price impact -> more liquidations to the fixed point below `price`."""
    direct = book.liquidated_usd(price)
    p, it, converged = price, 0, False
    while it < max_iterations:
        it += 1
        new = price * max(0.0, 1.0 - book.liquidated_usd(p) / depth_usd_per_pct / 100.0)
        if abs(new - p) <= tolerance_usd:
            p, converged = new, True
            break
        p = new
    return Cascade(start_usd=price, price_usd=p, direct_usd=direct, total_usd=book.liquidated_usd(p), iterations=it,
                   converged=converged)


def depth_from_sqrt_law(volume_usd: float, sigma_daily: float, y: float) -> float:
    """USD of selling that moves the price 1% under dP/P = Y sigma sqrt(Q / V): Q = V (0.01 / (Y sigma))^2."""
    return volume_usd * (0.01 / (y * sigma_daily)) ** 2
