"""Miner findings as of the crash: the cost definitions by hand from the store, point in time (data,
generations and parameters), params, and the brief section with the published estimates beside the model."""

from __future__ import annotations

import datetime as dt
import importlib.util

import numpy as np
import pytest

from btcstress import metrics
from btcstress.errors import InputError
from btcstress import fleet
from btcstress.fleet import data as fleet_data
from btcstress.metrics import miners
from btcstress.metrics.context import Context

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
CRASH = dt.datetime(2026, 2, 6, 8, 0, tzinfo=dt.timezone.utc)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


def _fs(store, as_of=CRASH, **kw):
    return metrics.compute(store, as_of, areas=("price", "miners"), **kw)


@pytest.fixture(scope="module")
def fs(snapshot_db):
    """Price and miner findings at the crash, once for the module's tests (they only read them)."""
    from btcstress.store import Store
    with Store(snapshot_db, read_only=True) as s:
        return _fs(s)


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


def test_cost_definitions_follow_the_formulas_by_hand(store, fs):
    elec, cash, allin, marg = (fs.get("miners.electricity_cost_usd"), fs.get("miners.cash_cost_usd"),
                               fs.get("miners.production_cost_usd"), fs.get("miners.marginal_cost_usd"))
    p = allin.params
    # Inputs by hand: 7-day means (2026-01-30..2026-02-05) of hashrate and BTC issued.
    t = store.table("network_daily")
    w = t.filter((t.date >= dt.date(2026, 1, 30)) & (t.date <= dt.date(2026, 2, 5)))
    h = w.filter(w.metric == "hashrate_hs").value.mean().execute()
    btc = w.filter(w.metric == "block_rewards_btc").value.mean().execute()
    thsec = h / 1e12 * 86400 / btc
    assert allin.detail["network_th_seconds_per_btc"] == pytest.approx(thsec, rel=1e-9)
    curve = {r["generation"]: r for r in allin.detail["cost_curve"]}
    # The S21 generation's J/TH is the mean of its models in the shipped file.
    s21_j = np.mean([m.j_per_th for m in fleet_data.machines() if m.generation == "S21 / M60 (2024)"])
    s21 = curve["S21 / M60 (2024)"]
    kwh = thsec * s21_j / 3.6e6 * p["pue"]
    assert s21["electricity_usd_per_btc"] == pytest.approx(kwh * p["power_price_usd_kwh"], abs=1)
    assert s21["cash_usd_per_btc"] == pytest.approx(kwh * (p["power_price_usd_kwh"] + p["non_energy_opex_usd_kwh"]),
                                                    abs=1)
    assert s21["all_in_usd_per_btc"] == pytest.approx(s21["cash_usd_per_btc"] + s21["depreciation_usd_per_btc"], abs=2)
    assert s21["depreciation_usd_per_btc"] > 0  # bought from 2024 at a sourced $14/TH, within 5 years
    # Hashrate-weighted averages over the curve; shares sum to 100 %.
    assert sum(r["share_pct"] for r in curve.values()) == pytest.approx(100, abs=0.05)
    for f, key in ((elec, "electricity_usd_per_btc"), (cash, "cash_usd_per_btc"), (allin, "all_in_usd_per_btc")):
        assert f.value == pytest.approx(sum(r["share_pct"] / 100 * r[key] for r in curve.values()), abs=5)
        assert f.kind == "modelled" and f.detail["definition"] in ("electricity", "cash", "all_in")
    assert elec.value < cash.value < allin.value
    # Marginal: the cash cost of the least efficient generation running.
    worst = max(curve.values(), key=lambda r: r["j_per_th"])
    assert marg.detail["least_efficient_running"] == worst["generation"]
    assert marg.value == pytest.approx(worst["cash_usd_per_btc"], abs=1)
    # Network power = fleet J/TH x smoothed hashrate x PUE.
    power, eff = fs.get("miners.network_power_gw"), fs.get("miners.fleet_j_per_th")
    assert eff.value == pytest.approx(sum(r["share_pct"] / 100 * r["j_per_th"] for r in curve.values()), abs=0.1)
    assert power.value == pytest.approx(eff.detail["fleet_j_per_th"] * h / 1e12 * p["pue"] / 1e9, rel=1e-3)
    costs_ = [r["all_in_usd_per_btc"] for r in allin.detail["cost_curve"]]
    assert costs_ == sorted(costs_)


def test_sensitivity_grid_brackets_the_base_cost(fs):
    cost = fs.get("miners.production_cost_usd")
    grid = cost.detail["sensitivity"]
    assert grid["base"]["fleet_base_weighted"] == cost.value
    assert grid["low"]["fleet_base_weighted"] < cost.value < grid["high"]["fleet_base_weighted"]
    for row in grid.values():
        assert row["fleet_low_most_efficient"] <= row["fleet_base_weighted"] <= row["fleet_high_least_efficient_running"]


def test_margin_underwater_and_breakeven_are_consistent_with_price_and_cost(fs):
    m, cost = fs.get("miners.margin_pct"), fs.get("miners.production_cost_usd")
    price = m.detail["price_usd"]
    assert 55_000 < price < 75_000  # price.last_usd, or the 2026-02-05 CryptoQuant close when absent
    assert m.value == pytest.approx((price - cost.value) / price * 100, abs=0.05)
    assert m.value < 0 and m.kind == "modelled" and not m.hypothetical
    # Under water, from the cost curve by hand, on both bases.
    curve = cost.detail["cost_curve"]
    for fid, key in (("miners.hashrate_underwater_pct", "all_in_usd_per_btc"),
                     ("miners.hashrate_underwater_cash_pct", "cash_usd_per_btc")):
        u = fs.get(fid)
        assert u.value == pytest.approx(sum(r["share_pct"] for r in curve if r[key] > price), abs=0.1), fid
    assert fs.value("miners.hashrate_underwater_cash_pct") <= fs.value("miners.hashrate_underwater_pct")
    be = fs.get("miners.breakeven_power_price_usd_kwh")
    assert be.value == pytest.approx(price / be.detail["kwh_per_btc_weighted"] - cost.params["non_energy_opex_usd_kwh"],
                                     abs=1e-4)


def test_every_finding_carries_sources_and_the_model_params(fs):
    ours = [f for f in fs if f.id.startswith("miners.")]
    computed = {f.id for f in ours if f.kind != "cited"}
    assert computed == {
        "miners.electricity_cost_usd", "miners.cash_cost_usd", "miners.production_cost_usd",
        "miners.marginal_cost_usd", "miners.network_power_gw", "miners.fleet_j_per_th", "miners.margin_pct",
        "miners.hashprice_usd_per_ph_day", "miners.revenue_usd_1d", "miners.breakeven_power_price_usd_kwh",
        "miners.reserve_btc", "miners.reserve_change_30d_btc", "miners.outflow_btc_1d", "miners.to_exchange_btc_1d",
        "miners.hashrate_underwater_pct", "miners.hashrate_underwater_cash_pct", "miners.hash_ribbon",
        "miners.puell_multiple"}
    for f in ours:
        assert f.value is not None and f.sources, f.id
        for s in f.sources:  # store rows from the snapshot, package files, or a citation with its URL
            assert (s.origin.startswith("snapshot/") or s.table.startswith("package:")
                    or (s.table == "citations" and "https://" in s.origin and s.note.startswith("snapshot/"))), (f.id, s)
    for fid in ("miners.production_cost_usd", "miners.margin_pct", "miners.hashrate_underwater_pct"):
        assert fs.get(fid).params["power_price_usd_kwh"] == fleet.DEFAULTS["power_price_usd_kwh"]
        assert fs.get(fid).params["depreciation_years"] == fleet.DEFAULTS["depreciation_years"]
        assert fs.get(fid).detail["unverified_params"] == ["pue"]


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
    # 2026-02-05's rows are published at 2026-02-06T07:00Z (docs/DATA.md): one second earlier they do not exist.
    before = _fs(store, as_of=utc(2026, 2, 6, 6, 59, 59))
    assert before.value("miners.reserve_btc") == 1_803_248
    assert before.get("miners.outflow_btc_1d").window == "1d:2026-02-04"
    assert before.get("miners.production_cost_usd").window == "1d:2026-02-04"
    for f in before:
        if f.id.startswith("miners."):
            # daily rows end at 2026-02-04; the price's hourly bars opened before T; a cited estimate
            # counts from the end of its publication day (2026-02-05's is known at 02-06 00:00)
            for s in f.sources:
                limit = dt.datetime(2026, 2, 6, 6) if s.table == "candles" and "binance" in s.origin \
                    else dt.datetime(2026, 2, 6) if s.table == "citations" else dt.datetime(2026, 2, 4)
                assert s.last is None or s.last <= limit, (f.id, s)
    after = _fs(store, as_of=utc(2026, 2, 6, 7))
    assert after.value("miners.reserve_btc") == 1_803_858


def test_fleet_runs_no_generation_before_its_release_and_meets_the_observed_hashrate(store):
    m = miners.model(Context(store=store, as_of=CRASH))
    f = m.fleet
    assert np.allclose(f.running_th.sum(axis=1), m.days["h_th"].to_numpy(), rtol=1e-9)
    dates = np.array(f.dates)
    for j, g in enumerate(f.generations):
        assert (f.running_th[dates < g.release, j] == 0).all(), g.name
        assert (f.running_th[:, j] <= f.installed_th[:, j] + 1e-6).all(), g.name
    assert m.curve().date == dt.date(2026, 2, 5)


def test_a_run_in_the_past_uses_only_generations_and_parameters_published_by_then(store):
    past = _fs(store, as_of=utc(2024, 2, 29))
    cost = past.get("miners.production_cost_usd")
    assert cost.params["power_price_usd_kwh"] == 0.05  # Cambridge's 2025 report not published yet
    assert "power_price_usd_kwh" in cost.detail["params_not_yet_published"]
    names = {r["generation"] for r in cost.detail["cost_curve"]}
    assert all(g.release <= dt.date(2024, 2, 28) for g in fleet_data.generations() if g.name in names)
    assert not past.all("miners.cambridge_fleet_j_per_th")  # published 2025-04-29
    assert {f.detail["published"] for f in past.all("miners.published_cost_usd")} == set()  # known from 03-01


def test_backtest_script_reproduces_the_ribbon_and_bottoms_table(store):
    spec = importlib.util.spec_from_file_location("miners_backtest", ROOT / "benchmarks" / "miners_backtest.py")
    bt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bt)
    r = bt.backtest(store, CRASH)
    b = {x["bottom"]: x for x in r["bottoms"]}
    assert b["2018-12"]["inside_capitulation"] and b["2018-12"]["low_close_day"] == "2018-12-14"
    assert b["2020-03"]["days_from_capitulation"] == 7 and b["2022-11"]["days_from_capitulation"] == 6
    years = {y["year"]: y for y in r["by_year"]}
    h = miners.model(Context(store=store, as_of=CRASH)).history.dropna(subset=["close"])
    y26 = h[h["date"].dt.year == 2026]
    assert years[2026]["days"] == len(y26) == 36
    assert years[2026]["below_all_in_pct"] == round(100 * float((y26.close < y26.all_in).mean()), 1)
    assert "| 2018-12 |" in bt.markdown(r)


def test_section_states_the_definition_and_shows_published_estimates_beside_the_model(store):
    from btcstress.brief.sections import miners as section
    fs = metrics.compute(store, CRASH, areas=("price", "miners"), with_series=True)
    s = section.build(fs)
    first = "".join(p if isinstance(p, str) else p.text for p in s.paragraphs[0].parts)
    cost = fs.get("miners.production_cost_usd")
    assert first.startswith("On an all-in basis (cash cost plus depreciation of the machines running) miners are "
                            "under water") and f"${cost.value:,.0f}" in first
    table = s.tables[0]
    kinds = [r[1] for r in table.rows]
    assert kinds == ["modelled"] * 4 + ["cited"] * len(fs.all("miners.published_cost_usd"))
    cited = [r for r in table.rows if r[1] == "cited"]
    # Known by 2026-02-06T08:00Z: the five estimates published by 2026-02-05 (JPMorgan 2026-02-12 is not).
    assert [(r[0], r[3]) for r in cited] == [("JPMorgan", "2024-02-29"), ("JPMorgan", "2024-06"),
                                             ("JPMorgan", "2025-11"), ("JPMorgan", "2026-01"),
                                             ("CryptoQuant", "2026-02-05")]
    assert all(r[4].finding.kind == "cited" for r in cited)
    assert [c.id for c in s.charts] == ["miners_cost", "miners_fleet", "miners_hashprice", "miners_reserve"]
    fleet_chart = next(c for c in s.charts if c.id == "miners_fleet")
    cited = [d for d in fleet_chart.figure["data"] if "cited" in d["name"]]
    assert cited and cited[0]["y"] == [fs.get("miners.cambridge_electricity_twh", "2024").detail["average_power_gw"]]
    series = fs.series["miners.cost_vs_price_3y"]
    assert 1090 <= len(series.x) <= 1100 and series.x[-1] == "2026-02-05"
    assert all(lo <= mid <= hi for lo, mid, hi in zip(series.extra["all_in_low"], series.y, series.extra["all_in_high"]))
    assert all(e <= c <= a for e, c, a in zip(series.extra["electricity"], series.extra["cash"], series.y))


@pytest.mark.parametrize("as_of", [CRASH, utc(2024, 2, 29), utc(2025, 6, 15, 12, 30)])
def test_a_model_cut_from_the_whole_run_equals_the_run_as_of_t(store, monkeypatch, as_of):
    # Histories ask for the model at many instants; the cut from one run over all data must be exact.
    fast = [f.model_dump(mode="json") for f in _fs(store, as_of=as_of)]
    assert miners._WHOLE  # the fast path was taken
    monkeypatch.setattr(miners, "_from_whole", lambda ctx, p: None)
    slow = [f.model_dump(mode="json") for f in _fs(store, as_of=as_of)]
    assert fast == slow


def test_a_late_row_makes_the_model_run_as_of_t(snapshot_db, tmp_path):
    # A restated row (published days after its date) means the data as of T is not a prefix of all the
    # data: the cut is refused and the model runs as of T.
    import duckdb
    import shutil

    from btcstress.store import Store
    db = tmp_path / "late.duckdb"
    shutil.copy(snapshot_db, db)
    con = duckdb.connect(str(db))
    con.execute("UPDATE network_daily SET available_at = available_at + INTERVAL 3 DAY "
                "WHERE date = DATE '2026-02-03' AND metric = 'hashrate_hs'")
    con.close()
    with Store(db, read_only=True) as s:
        at = Context(store=s, as_of=utc(2026, 2, 5, 12))  # last day 2026-02-04; 02-03's hashrate not yet known
        assert miners._from_whole(at, miners.params(at)) is None
        later = Context(store=s, as_of=utc(2026, 2, 7, 12))  # by then it is
        m = miners._from_whole(later, miners.params(later))
        assert m is not None and m.days["date"].iloc[-1].date() == dt.date(2026, 2, 6)
