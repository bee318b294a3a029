"""The simulated book and the cascade, on tiny bars written here (no store)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from btcstress.scenario import book as bk

ROOT = Path(__file__).resolve().parents[2]


def _oracle():
    """The slow loop oracle, which lives beside the benchmark (benchmarks/cascade_oracle.py)."""
    spec = importlib.util.spec_from_file_location("cascade_oracle", ROOT / "benchmarks" / "cascade_oracle.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

BUCKETS = [[1.0, 3.0, 0.363], [3.0, 7.0, 0.485], [7.0, 40.0, 0.152]]


def bars(lows, highs, closes, weights=None) -> bk.Bars:
    n = len(lows)
    return bk.Bars(low=np.array(lows, float), high=np.array(highs, float), close=np.array(closes, float),
                   weight=np.ones(n) if weights is None else np.array(weights, float))


def build(b, draws, current, oi=1e9, buckets=BUCKETS, scale=1.0, mm=0.004):
    return bk.build(b, draws, buckets=buckets, leverage_scale=scale, max_leverage=125.0, maintenance_margin=mm,
                    current=current, open_interest_usd=oi)


def one(bar: int, u_entry: float, bucket: int, u_lev: float) -> bk.Draws:
    return bk.Draws(bar=np.array([bar]), u_entry=np.array([u_entry]), bucket=np.array([bucket]), u_lev=np.array([u_lev]))


def test_liquidation_price_is_entry_times_one_minus_inverse_leverage_plus_maintenance():
    b = bars([100.0], [100.0], [100.0])
    # bucket [10, 10]: leverage exactly 10 -> liquidation at 100 x (1 - 0.1 + 0.004) = 90.4
    book = build(b, one(0, 0.0, 0, 0.5), current=100.0, buckets=[[10.0, 10.0, 1.0]])
    assert book.survivors == 1
    assert book.liq_price[0] == pytest.approx(90.4)
    # its notional at the liquidation price: OI / current BTC x 90.4
    assert book.liquidated_usd(90.4) == pytest.approx(1e9 / 100.0 * 90.4)
    assert book.liquidated_usd(90.41) == 0.0


def test_positions_already_liquidated_by_a_later_low_are_not_in_the_book():
    # Opened at 100 with 10x (liquidation 90.4); the next bar's low of 89 liquidated it already.
    b = bars([100.0, 89.0], [100.0, 95.0], [100.0, 94.0])
    book = build(b, one(0, 0.0, 0, 0.0), current=94.0, buckets=[[10.0, 10.0, 1.0]])
    assert book.survivors == 0 and book.liquidated_usd(1.0) == 0.0
    # The same position opened in the last bar (after the low) survives.
    book = build(b, one(1, 1.0, 0, 0.0), current=94.0, buckets=[[10.0, 10.0, 1.0]])
    assert book.survivors == 1


def test_the_current_price_counts_as_part_of_the_path():
    b = bars([100.0], [100.0], [100.0])
    book = build(b, one(0, 0.0, 0, 0.0), current=90.0, buckets=[[10.0, 10.0, 1.0]])
    assert book.survivors == 0


def test_surviving_positions_share_the_open_interest_equally_in_btc():
    b = bars([90.0, 95.0], [110.0, 105.0], [100.0, 100.0])
    d = bk.draw(b, BUCKETS, 10_000, seed=1)
    book = build(b, d, current=100.0, oi=5e9)
    assert book.qty_btc * book.survivors == pytest.approx(5e9 / 100.0)


def test_liquidations_grow_as_the_price_falls():
    b = bars(np.linspace(95, 80, 30), np.linspace(100, 85, 30) + 5, np.linspace(98, 82, 30))
    d = bk.draw(b, BUCKETS, 50_000, seed=3)
    book = build(b, d, current=82.0)
    prices = np.linspace(81.9, 20, 60)
    got = [book.liquidated_usd(p) for p in prices]
    assert all(x <= y for x, y in zip(got, got[1:]))
    assert got[0] < got[-1] and got[-1] > 0


def test_the_draws_are_seeded():
    b = bars([90.0, 95.0], [110.0, 105.0], [100.0, 100.0])
    a, c = bk.draw(b, BUCKETS, 1000, seed=9), bk.draw(b, BUCKETS, 1000, seed=9)
    assert np.array_equal(a.bar, c.bar) and np.array_equal(a.u_lev, c.u_lev)
    assert not np.array_equal(a.u_entry, bk.draw(b, BUCKETS, 1000, seed=10).u_entry)


def test_cascade_reaches_the_fixed_point_of_linear_impact():
    # One position, liquidation at 90.4, notional 1e9 / 100 x 90.4 = 904M; depth 904M per 1% ->
    # at P = 90: sold 904M -> 1% lower -> 89.1, nothing more to sell: fixed point 89.1.
    b = bars([100.0], [100.0], [100.0])
    book = build(b, one(0, 0.0, 0, 0.5), current=100.0, buckets=[[10.0, 10.0, 1.0]])
    c = bk.cascade(book, 90.0, depth_usd_per_pct=1e9 / 100.0 * 90.4, tolerance_usd=1e-9)
    assert c.converged and c.price_usd == pytest.approx(89.1)
    assert c.extra_move_pct == pytest.approx(-1.0)
    assert c.direct_usd == c.total_usd == pytest.approx(904e6)
    # Above the liquidation price nothing is sold and the price stays.
    c = bk.cascade(book, 95.0, depth_usd_per_pct=1e6)
    assert c.price_usd == 95.0 and c.direct_usd == 0.0


def test_a_cascade_can_trigger_liquidations_below_the_scenario_price():
    b = bars([100.0, 100.0], [100.0, 100.0], [100.0, 100.0])
    d = bk.Draws(bar=np.array([0, 1]), u_entry=np.zeros(2), bucket=np.array([0, 1]), u_lev=np.zeros(2))
    # leverage 10 -> liq 90.4; leverage 12.5 -> liq 92.4
    book = build(b, d, current=100.0, buckets=[[10.0, 10.0, 0.5], [12.5, 12.5, 0.5]])
    depth = 500e6 * 92.4 / 100.0 / 2  # selling the first position moves the price 2%
    c = bk.cascade(book, 92.0, depth_usd_per_pct=depth, tolerance_usd=1e-9)
    assert c.direct_usd == pytest.approx(book.usd_at_liq[1])
    assert c.total_usd == pytest.approx(book.total_usd)  # the 90.4 position went too
    assert c.price_usd < 90.4


def test_vectorized_and_loop_versions_agree():
    rng = np.random.default_rng(0)
    lows = 60 + rng.random(30) * 10
    b = bars(lows, lows + 5, lows + 2.5, rng.random(30) + 0.1)
    d = bk.draw(b, BUCKETS, 20_000, seed=5)
    kw = dict(buckets=BUCKETS, leverage_scale=1.1, max_leverage=125.0, maintenance_margin=0.004, current=66.0,
              open_interest_usd=3e9)
    book = bk.build(b, d, **kw)
    oracle = _oracle()
    for price in (64.0, 58.0, 50.0):
        v = bk.cascade(book, price, 50e6, tolerance_usd=1e-6)
        loop = oracle.cascade_loop(b, d, price=price, depth_usd_per_pct=50e6, tolerance_usd=1e-6, **kw)
        assert v.iterations == loop.iterations
        assert v.price_usd == pytest.approx(loop.price_usd, rel=1e-9)
        assert v.direct_usd == pytest.approx(loop.direct_usd, rel=1e-9)
        assert v.total_usd == pytest.approx(loop.total_usd, rel=1e-9)


def test_a_cascade_over_a_million_positions_converges():
    # Timing lives in benchmarks/bench_cascade.py (tests never assert timings: the cores are shared).
    rng = np.random.default_rng(1)
    lows = 60 + rng.random(31) * 10
    b = bars(lows, lows + 5, lows + 2.5, rng.random(31) + 0.1)
    d = bk.draw(b, BUCKETS, 1_000_000, seed=2)
    book = bk.build(b, d, buckets=BUCKETS, leverage_scale=1.0, max_leverage=125.0, maintenance_margin=0.004,
                    current=64.0, open_interest_usd=20e9)
    c = bk.cascade(book, 52.0, 250e6)
    assert book.sampled == 1_000_000 and book.survivors > 100_000
    assert c.converged and c.price_usd < 52.0 and c.total_usd >= c.direct_usd > 0


def test_depth_from_the_square_root_law_at_one_percent():
    # 1% = Y sigma sqrt(Q / V) -> Q = V (0.01 / (Y sigma))^2
    assert bk.depth_from_sqrt_law(3e9, 0.02, 1.0) == pytest.approx(3e9 * 0.25)
    assert bk.depth_from_sqrt_law(3e9, 0.01, 1.0) == pytest.approx(3e9)
