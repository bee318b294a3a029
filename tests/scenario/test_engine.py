"""Scenario findings on the real snapshot: as of 2026-02-06T08:00Z at $55k and $45k."""

from __future__ import annotations

import datetime as dt

import pytest

from btcstress import metrics
from btcstress.metrics.context import Context
from btcstress.metrics import scenario as engine, scenario_inputs as inputs
from btcstress.scenario.params import DEFAULTS
from tests.conftest import CRASH, utc

IDS = ("scenario.liquidations_usd", "scenario.cascade_price_usd", "scenario.cascade_extra_move_pct",
       "scenario.hashrate_underwater_pct", "scenario.entities_underwater")


@pytest.fixture(scope="module")
def at55(snapshot_db):
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        yield metrics.compute(s, CRASH, price=55000.0)


@pytest.fixture(scope="module")
def at45(snapshot_db):
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        yield metrics.compute(s, CRASH, price=45000.0)


def test_both_prices_answer_with_every_scenario_finding(at55, at45):
    for fs in (at55, at45):
        for i in IDS:
            f = fs.get(i)
            assert f is not None and f.value is not None, (i, f and f.note)
            assert f.hypothetical and f.kind == "modelled" and f.sources and f.method
    assert at55.get("scenario.liquidations_usd").detail["scenario_usd"] == 55000.0
    assert at55.get("scenario.liquidations_usd").detail["current_usd"] == 64856.0  # price.last_usd


def test_liquidations_grow_as_the_price_falls(at55, at45):
    assert 0 < at55.value("scenario.liquidations_usd") < at45.value("scenario.liquidations_usd")
    # $55k: ~$0.7B; $45k: ~$1.6B (order of magnitude pinned; docs/METRICS.md has the values)
    assert 3e8 < at55.value("scenario.liquidations_usd") < 2e9
    assert 8e8 < at45.value("scenario.liquidations_usd") < 4e9


def test_liquidations_are_monotone_over_a_price_grid(store):
    ctx = Context(store=store, as_of=CRASH)
    metrics_ctx = metrics.compute(store, CRASH, areas=("price",))
    ctx.findings.extend(metrics_ctx.findings)
    p = dict(DEFAULTS)
    obs = engine.observed(ctx)
    got = [engine.liquidations(ctx, p, obs, float(x), "grid")[0].value for x in range(64000, 30000, -2000)]
    assert all(a <= b for a, b in zip(got, got[1:])) and got[0] < got[-1]


def test_the_cascade_pushes_the_price_below_the_scenario_price(at55, at45):
    for fs, p in ((at55, 55000.0), (at45, 45000.0)):
        c = fs.get("scenario.cascade_price_usd")
        assert c.value < p and c.detail["converged"]
        assert fs.value("scenario.cascade_extra_move_pct") == pytest.approx((c.value / p - 1) * 100, abs=0.01)
        assert c.detail["liquidations_with_cascade_usd"] >= fs.value("scenario.liquidations_usd")
        assert c.params["maintenance_margin"] == DEFAULTS["maintenance_margin"]


def test_strategy_loses_about_15_billion_at_55k(at55):
    e = at55.get("scenario.entities_underwater")
    strategy = next(r for r in e.detail["entities"] if r["entity"] == "Strategy")
    # 713,502 BTC x (55,000 - 76,052) (SEC 8-K of 2026-02-02)
    assert strategy["pnl_usd"] == pytest.approx(713_502 * (55_000 - 76_052), rel=1e-6)
    assert round(strategy["pnl_usd"] / 1e9, 1) == -15.0
    assert e.detail["etf_holders"]["underwater"] and e.detail["etf_holders"]["pnl_pct"] < -30
    # and the re-valued treasury finding agrees
    assert at55.value("treasury.unrealized_pnl_usd", "Strategy") == pytest.approx(strategy["pnl_usd"])


def test_the_typed_views_read_the_scenario_findings(at55):
    from btcstress.details import Cascade, EntitiesUnderwater, HashrateUnderwater, LiquidationsAt
    liq = LiquidationsAt.of(at55.get("scenario.liquidations_usd"))
    assert liq.scenario_usd == 55000.0 and liq.current_usd == at55.value("price.last_usd")
    c = at55.get("scenario.cascade_price_usd")
    assert Cascade.of(c).liquidations_with_cascade_usd == c.detail["liquidations_with_cascade_usd"]
    h = at55.get("scenario.hashrate_underwater_pct")
    assert HashrateUnderwater.of(h).all_in_by_power_price_pct["base"] == h.value
    e = EntitiesUnderwater.of(at55.get("scenario.entities_underwater"))
    assert e.names == [u.entity for u in e.entities] and e.etf_holders is not None
    assert e.treasury_pnl_usd == pytest.approx(sum(u.pnl_usd for u in e.entities), abs=len(e.entities))


def test_hashrate_under_water_by_power_price_and_basis(at55, at45):
    h55, h45 = at55.get("scenario.hashrate_underwater_pct"), at45.get("scenario.hashrate_underwater_pct")
    assert h55.value == 100.0  # all-in cost above $55k for every generation running
    cash55 = h55.detail["cash_by_power_price_pct"]
    cash45 = h45.detail["cash_by_power_price_pct"]
    assert cash55["low"] <= cash55["base"] <= cash55["high"]
    assert cash45["low"] >= cash55["low"] and cash55["low"] < 100  # cheap power keeps some above water
    for k in ("low", "base", "high"):  # electricity <= cash <= all-in, so the shares under water nest
        assert (h55.detail["electricity_by_power_price_pct"][k] <= cash55[k]
                <= h55.detail["all_in_by_power_price_pct"][k])
    assert h55.value == at55.value("miners.hashrate_underwater_pct")


def test_every_price_dependent_finding_is_revalued_and_marked(at55):
    assert at55.get("treasury.value_usd", "Strategy").hypothetical
    assert at55.get("etf.holders_pnl_pct").hypothetical
    assert not at55.get("price.last_usd").hypothetical


def test_the_ladder_is_computed_with_the_findings_and_falls_step_by_step(at55):
    f = at55.get("scenario.ladder")  # always from price.last_usd, whatever the --price
    assert f is not None and [r["shock_pct"] for r in f.value] == [-10.0, -20.0, -30.0]
    assert f.value[0]["price_usd"] == pytest.approx(64856.0 * 0.9)
    liqs = [r["liquidations_usd"] for r in f.value]
    assert liqs == sorted(liqs) and liqs[0] > 0
    assert all(r["cascade_price_usd"] <= r["price_usd"] for r in f.value)
    assert all(r["treasuries_underwater_names"] == ["Strategy"] for r in f.value)


def test_parameters_can_be_overridden_and_are_echoed(store):
    fs = metrics.compute(store, CRASH, price=55000.0, areas=("price", "scenario"),
                         params={"scenario": {"depth_usd_per_pct": 1e13, "ladder_pct": [-5.0]}})
    c = fs.get("scenario.cascade_price_usd")
    assert c.params["depth_usd_per_pct"] == 1e13
    assert c.value == pytest.approx(55000.0, abs=1.0)  # an infinitely deep market: no cascade
    assert [r["shock_pct"] for r in fs.value("scenario.ladder")] == [-5.0]


def test_the_model_does_not_see_data_published_after_as_of(store):
    p = dict(DEFAULTS)
    # Midday on the crash day: 2026-02-05's open interest and daily bar are not published yet.
    i = inputs.read(Context(store=store, as_of=utc(2026, 2, 5, 12)), p)
    assert i.oi_date == dt.date(2026, 2, 4)
    assert i.bar_dates[-2] == "2026-02-04" and i.bar_dates[-1].startswith("2026-02-05 (partial")
    assert min(i.bars.low) > 60000.0  # the 60,000 low of 2026-02-06 is in the future
    # By 08:00 the next day it is in the path.
    j = inputs.read(Context(store=store, as_of=CRASH), p)
    assert j.oi_date == dt.date(2026, 2, 5) and min(j.bars.low) == 60000.0


def test_without_open_interest_the_liquidation_findings_say_why(store):
    fs = metrics.compute(store, utc(2016, 1, 2), price=300.0, areas=("price", "treasuries", "scenario"))
    f = fs.get("scenario.liquidations_usd")
    assert f.value is None and "open interest" in f.note
    assert fs.get("scenario.entities_underwater") is not None
