"""Miner findings as of the crash, the cost model by hand, point in time, params and the brief section."""

from __future__ import annotations

import datetime as dt
import importlib.util

import numpy as np
import pytest

from btcstress import metrics
from btcstress.errors import InputError
from btcstress.metrics import miners
from btcstress.metrics.context import Context

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
CRASH = dt.datetime(2026, 2, 6, 8, 0, tzinfo=dt.timezone.utc)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


def _fs(store, as_of=CRASH, **kw):
    return metrics.compute(store, as_of, areas=("price", "miners"), **kw)


@pytest.fixture()
def fs(store):
    return _fs(store)


def test_crash_flows_reserve_and_revenue_agree_with_the_data(fs):
    # Last complete day at 2026-02-06T08:00Z is 2026-02-05 (SOURCES.md crash-window table).
    assert fs.value("miners.reserve_btc") == 1_803_858
    chg = fs.get("miners.reserve_change_30d_btc")
    assert chg.detail["from"] == "2026-01-06" and chg.detail["reserve_to"] == 1_803_858
    assert chg.value == pytest.approx(-449, abs=1) and abs(chg.unusual["zscore"]) < 1  # a quiet month
    out = fs.get("miners.outflow_btc_1d")
    assert out.value == pytest.approx(28605.4) and out.window == "1d:2026-02-05"
    assert out.unusual["zscore"] > 5 and out.unusual["percentile"] == 100.0  # largest of the trailing year
    assert fs.value("miners.to_exchange_btc_1d") == pytest.approx(24268.5)
    assert fs.value("miners.revenue_usd_1d") == 27_806_896
    # hashprice = 27,806,895.9 USD / 894,379.7 PH/s
    assert fs.value("miners.hashprice_usd_per_ph_day") == pytest.approx(27806895.90696225 / 894379.6968410612, abs=0.01)
    rev = fs.get("miners.revenue_usd_1d")
    assert rev.detail["subsidy_btc"] == pytest.approx(127 * 3.125)


def test_hash_ribbon_is_in_capitulation_since_early_january(fs):
    r = fs.get("miners.hash_ribbon")
    assert r.value == "capitulation"
    assert r.detail["last_cross"] == "2026-01-06" and r.detail["days_since_cross"] == 30
    assert r.detail["sma_short_hs"] < r.detail["sma_long_hs"]


def test_puell_recomputed_matches_cryptoquant_on_the_day_and_across_the_series(store, fs):
    p = fs.get("miners.puell_multiple")
    assert p.value == pytest.approx(p.detail["cryptoquant_puell_multiple"], rel=0.005)
    assert p.value == pytest.approx(0.606, abs=0.001)
    m = miners.model(Context(store=store, as_of=CRASH))
    t = store.table("indicators_daily")
    cq = t.filter(t.name == "puell_multiple").select("date", "value").execute()
    cq["date"] = cq["date"].astype("datetime64[ns]")
    mine = m.full[["date", "puell"]].assign(date=lambda d: d["date"].astype("datetime64[ns]")).dropna()
    j = cq.merge(mine, on="date")
    rel = (j.puell / j.value - 1).abs()
    assert len(j) > 1800
    assert rel.median() < 0.002 and rel.quantile(0.95) < 0.01


def test_production_cost_follows_the_formula_by_hand(store, fs):
    cost, elec = fs.get("miners.production_cost_usd"), fs.get("miners.electricity_cost_usd")
    p = cost.params
    # Inputs by hand: 7-day means (2026-01-30..2026-02-05) of hashrate and BTC issued.
    t = store.table("network_daily")
    w = t.filter((t.date >= dt.date(2026, 1, 30)) & (t.date <= dt.date(2026, 2, 5)))
    h = w.filter(w.metric == "hashrate_hs").value.mean().execute()
    btc = w.filter(w.metric == "block_rewards_btc").value.mean().execute()
    thsec = h / 1e12 * 86400 / btc
    assert cost.detail["network_th_seconds_per_btc"] == pytest.approx(thsec, rel=1e-9)
    curve = {r["cohort"]: r for r in cost.detail["cost_curve"]}
    s21 = curve["Antminer S21 (5nm)"]
    kwh = thsec * 17.5 / 3.6e6 * p["pue"]
    assert s21["electricity_usd_per_btc"] == pytest.approx(kwh * p["power_price_usd_kwh"], abs=1)
    assert s21["all_in_usd_per_btc"] == pytest.approx(
        s21["electricity_usd_per_btc"] * p["opex_multiplier"] + s21["capex_usd_per_btc"], abs=2)
    # Hashrate-weighted averages over the curve; shares sum to 100 %.
    assert sum(r["share_pct"] for r in curve.values()) == pytest.approx(100, abs=0.05)
    assert elec.value == pytest.approx(sum(r["share_pct"] / 100 * r["electricity_usd_per_btc"]
                                           for r in curve.values()), abs=5)
    assert cost.value == pytest.approx(sum(r["share_pct"] / 100 * r["all_in_usd_per_btc"]
                                           for r in curve.values()), abs=5)
    # The curve runs from the cheapest to the dearest all-in cost.
    costs = [r["all_in_usd_per_btc"] for r in cost.detail["cost_curve"]]
    assert costs == sorted(costs)


def test_default_cost_lands_above_the_story_87k_and_low_power_price_brings_it_under(fs):
    # Written down in docs/METRICS.md: not tuned, the cited defaults give ~$104k; the story says "> $87,000".
    cost = fs.get("miners.production_cost_usd")
    assert cost.value == pytest.approx(103_993, abs=1)
    grid = cost.detail["sensitivity"]
    assert grid["low"]["fleet_base_weighted"] < 87_000 < grid["base"]["fleet_base_weighted"]
    assert grid["low"]["fleet_low_most_efficient"] <= grid["low"]["fleet_base_weighted"] \
        <= grid["low"]["fleet_high_least_efficient_running"]


def test_margin_is_negative_and_consistent_with_price_and_cost(fs):
    m, cost = fs.get("miners.margin_pct"), fs.get("miners.production_cost_usd")
    price = m.detail["price_usd"]
    assert 55_000 < price < 75_000  # price.last_usd, or the 2026-02-05 CryptoQuant close when absent
    assert m.value == pytest.approx((price - cost.value) / price * 100, abs=0.05)
    assert m.value < 0 and m.kind == "modelled" and not m.hypothetical
    assert m.unusual["percentile"] < 5  # the worst margins of the trailing year
    u = fs.get("miners.hashrate_underwater_pct")
    assert u.value == 100.0  # every cohort's all-in cost is above ~$63k
    assert u.detail["electricity_only_by_power_price_pct"]["base"] < u.value
    be = fs.get("miners.breakeven_power_price_usd_kwh")
    assert be.value == pytest.approx(price / (be.detail["kwh_per_btc_weighted"] * cost.params["opex_multiplier"]),
                                     rel=1e-3)


def test_every_finding_carries_sources_and_the_model_params(fs):
    ours = [f for f in fs if f.id.startswith("miners.")]
    assert {f.id for f in ours} == {
        "miners.electricity_cost_usd", "miners.production_cost_usd", "miners.margin_pct",
        "miners.hashprice_usd_per_ph_day", "miners.revenue_usd_1d", "miners.breakeven_power_price_usd_kwh",
        "miners.reserve_btc", "miners.reserve_change_30d_btc", "miners.outflow_btc_1d", "miners.to_exchange_btc_1d",
        "miners.hashrate_underwater_pct", "miners.hash_ribbon", "miners.puell_multiple"}
    for f in ours:
        assert f.value is not None and f.sources, f.id
        assert all(s.rows > 0 and s.origin.startswith("snapshot/") for s in f.sources), f.id
    for fid in ("miners.production_cost_usd", "miners.margin_pct", "miners.hashrate_underwater_pct"):
        assert fs.get(fid).params["power_price_usd_kwh"] == miners.DEFAULTS["power_price_usd_kwh"]
        assert fs.get(fid).params["cohorts"] == miners.DEFAULTS["cohorts"]


def test_params_override_changes_the_cost_and_is_echoed(store, fs):
    low = _fs(store, params={"miners": {"power_price_usd_kwh": 0.03}})
    cost = low.get("miners.production_cost_usd")
    assert cost.params["power_price_usd_kwh"] == 0.03
    assert cost.value < fs.value("miners.production_cost_usd")
    with pytest.raises(InputError, match="unknown miners parameter"):
        _fs(store, params={"miners": {"power_price": 0.03}})


def test_price_override_marks_price_dependent_findings_hypothetical(store):
    fs = _fs(store, price=50_000.0)
    for fid in ("miners.margin_pct", "miners.hashrate_underwater_pct", "miners.breakeven_power_price_usd_kwh",
                "miners.revenue_usd_1d", "miners.hashprice_usd_per_ph_day"):
        assert fs.get(fid).hypothetical, fid
    assert fs.value("miners.revenue_usd_1d") == round(402.4678349 * 50_000)
    assert fs.get("miners.margin_pct").detail["price_usd"] == 50_000.0
    assert not fs.get("miners.production_cost_usd").hypothetical
    assert not fs.get("miners.reserve_btc").hypothetical


def test_as_of_before_the_day_is_published_sees_only_the_day_before(store):
    # 2026-02-05's rows are published at 2026-02-06T00:00Z: one second earlier they do not exist.
    before = _fs(store, as_of=utc(2026, 2, 5, 23, 59, 59))
    assert before.value("miners.reserve_btc") == 1_803_248
    assert before.get("miners.outflow_btc_1d").window == "1d:2026-02-04"
    assert before.get("miners.production_cost_usd").window == "1d:2026-02-04"
    for f in before:
        if f.id.startswith("miners."):
            for s in f.sources:  # daily rows end at 2026-02-04; the price's hourly bars opened before T
                limit = dt.datetime(2026, 2, 5, 23) if s.table == "candles" and "binance" in s.origin \
                    else dt.datetime(2026, 2, 4)
                assert s.last is None or s.last <= limit, (f.id, s)
    after = _fs(store, as_of=utc(2026, 2, 6))
    assert after.value("miners.reserve_btc") == 1_803_858


def test_underwater_is_a_pure_function_of_the_cost_curve():
    curve = miners.CostCurve(date=dt.date(2026, 2, 5), names=["new", "old"], j_per_th=np.array([15.0, 30.0]),
                             share=np.array([0.6, 0.4]), energy_kwh_per_btc=np.array([1_000_000.0, 2_000_000.0]),
                             capex_usd_per_btc=np.array([30_000.0, 0.0]), power_price_usd_kwh=0.05,
                             opex_multiplier=1.0, thsec_per_btc=1.0)
    # all-in: new 50k + 30k = 80k; old 100k. At 90k only "old" is under water; at 0.02 $/kWh neither is.
    r = miners.underwater(curve, 90_000, [0.05, 0.02])
    assert r[0.05]["total_pct"] == pytest.approx(40.0)
    assert r[0.05]["by_cohort"]["old"]["underwater"] and not r[0.05]["by_cohort"]["new"]["underwater"]
    assert r[0.02]["total_pct"] == 0.0
    assert miners.underwater(curve, 60_000, basis="electricity")[0.05]["total_pct"] == pytest.approx(40.0)


def test_fleet_shares_sum_to_one_and_no_cohort_runs_before_its_release(store):
    m = miners.model(Context(store=store, as_of=CRASH))
    sh = m.sim["shares"]
    assert np.allclose(sh.sum(axis=1), 1.0)
    dates = m.days["date"].dt.date.to_numpy()
    for j, c in enumerate(m.cohorts):
        assert (sh[dates < c.release, j] == 0).all(), c.name
    # The curve at T is the model's last day.
    assert m.curve().date == dt.date(2026, 2, 5)


def test_backtest_script_reproduces_the_ribbon_and_bottoms_table(store):
    spec = importlib.util.spec_from_file_location("miners_backtest", ROOT / "benchmarks" / "miners_backtest.py")
    bt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bt)
    r = bt.backtest(store, CRASH)
    b = {x["bottom"]: x for x in r["bottoms"]}
    assert b["2018-12"]["inside_capitulation"] and b["2018-12"]["low_close_day"] == "2018-12-14"
    assert b["2020-03"]["days_from_capitulation"] == 7 and b["2022-11"]["days_from_capitulation"] == 6
    years = {y["year"]: y for y in r["by_year"]}
    assert years[2017]["below_all_in_pct"] == 0.0 and years[2021]["below_all_in_pct"] == 0.0
    assert years[2026]["below_all_in_pct"] == 100.0
    assert "| 2018-12 |" in bt.markdown(r)


def test_section_says_miners_are_under_water_and_carries_three_charts(store):
    from btcstress.brief.sections import miners as section
    fs = metrics.compute(store, CRASH, areas=("price", "miners"), with_series=True)
    s = section.build(fs)
    first = "".join(p if isinstance(p, str) else p.text for p in s.paragraphs[0].parts)
    assert first.startswith("Miners are under water") and "below the modelled all-in cost of $103,993" in first
    assert [c.id for c in s.charts] == ["miners_cost", "miners_hashprice", "miners_reserve"]
    cost = fs.series["miners.cost_vs_price_3y"]
    assert 1090 <= len(cost.x) <= 1100 and cost.x[-1] == "2026-02-05"
    assert all(lo <= mid <= hi for lo, mid, hi in zip(cost.extra["all_in_low"], cost.y, cost.extra["all_in_high"]))
