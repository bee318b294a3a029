"""The pure fleet package: the sourced data files, causal prices, the simulation and the cost
definitions, checked by hand on tiny inputs (no store)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from btcstress import fleet
from btcstress.fleet import costs, data, simulate


def _csv(name):
    return list(csv.DictReader(io.StringIO(resources.files("btcstress").joinpath(name).read_text("utf-8"))))


def test_every_fleet_and_price_row_has_a_public_source_url():
    for name in (data.FLEET_FILE, data.PRICES_FILE, data.CAMBRIDGE_FILE):
        rows = _csv(name)
        assert rows, name
        for r in rows:
            assert r["source_url"].startswith(("http://", "https://")), (name, r)


def test_a_generation_is_the_plain_mean_of_its_models_and_unsourced_releases_are_not_used():
    rows = _csv(data.FLEET_FILE)
    by: dict[str, list[float]] = {}
    for r in rows:
        if r["release"]:
            by.setdefault(r["generation"], []).append(float(r["j_per_th"]))
    gens = {g.name: g for g in data.generations()}
    assert set(gens) == set(by)
    for name, js in by.items():
        assert gens[name].j_per_th == pytest.approx(sum(js) / len(js))
    no_date = [r["model"] for r in rows if not r["release"]]
    assert [m.model for m in data.unused()] == no_date and "Antminer S21 XP" in no_date
    # Releases are ordered and a generation is only known from its release.
    assert [g.release for g in data.generations()] == sorted(g.release for g in data.generations())
    assert all(g.release <= dt.date(2020, 5, 11) for g in data.generations(dt.date(2020, 5, 11)))


def test_prices_are_causal_latest_observation_on_or_before_the_day():
    pts = [(dt.date(2021, 5, 7), 119.25), (dt.date(2022, 1, 1), 101.04)]
    assert data.price_at(pts, dt.date(2021, 5, 6)) is None
    assert data.price_at(pts, dt.date(2021, 5, 7)) == 119.25
    assert data.price_at(pts, dt.date(2021, 12, 31)) == 119.25
    assert data.price_at(pts, dt.date(2030, 1, 1)) == 101.04
    # Same-day observations are averaged (S15 $44.6 and T15 $36.5 on launch day).
    same = [r for r in _csv(data.PRICES_FILE) if r["generation"] == "7nm first (S15/T15)"]
    assert data.price_points("7nm first (S15/T15)") == [(dt.date(2018, 11, 28),
                                                         pytest.approx(sum(float(r["usd_per_th"]) for r in same) / 2))]


def test_every_parameter_has_a_source_and_walk_forward_falls_back_before_publication():
    for row in fleet.params.listing():
        assert row["source"], row
        if row["verified"] is not None:  # estimates, not modelling choices: a URL
            assert row["url"] and row["url"].startswith("http"), row
    p, notes = fleet.params_as_of(dt.date(2024, 2, 29))
    assert p["power_price_usd_kwh"] == 0.05 and "power_price_usd_kwh" in notes  # Cambridge 2025 not out yet
    p, notes = fleet.params_as_of(dt.date(2025, 5, 1))
    assert p["power_price_usd_kwh"] == 0.045 and "power_price_usd_kwh" not in notes
    assert fleet.params_as_of(dt.date(2025, 5, 1), {"pue": 1.0})[0]["pue"] == 1.0


def _gen(name, release, j):
    return data.Generation(name=name, release=release, j_per_th=j, models=())


def _days(hs, rev, start=dt.date(2024, 1, 1), btc=450.0):
    return pd.DataFrame({"date": pd.date_range(start, periods=len(hs)), "h_th": hs, "btc_per_day": btc,
                         "rev_th_day": rev})


P = {"pue": 1.0, "power_tiers": 1, "tier_power_low_usd_kwh": 0.05, "tier_power_high_usd_kwh": 0.05,
     "non_energy_opex_usd_kwh": 0.0, "depreciation_years": 5.0, "power_price_usd_kwh": 0.05,
     "power_price_low_usd_kwh": 0.03, "power_price_high_usd_kwh": 0.07}


def test_growth_buys_the_newest_generation_and_unprofitable_machines_switch_off():
    old, new = _gen("old", dt.date(2020, 1, 1), 100.0), _gen("new", dt.date(2024, 1, 3), 20.0)
    # Cash cost per TH-day at $0.05: old 100 J/TH x 86,400 / 3.6e6 x 0.05 = $0.12; new $0.024.
    f = simulate.simulate(_days([100, 100, 150, 150], [1.0, 1.0, 1.0, 0.05]), [old, new], P)
    # Day 0: the fleet starts in the only released generation; day 2: +50 TH of "new" (released day 2).
    assert f.added_th[:, 0].tolist() == [100, 0, 0, 0] and f.added_th[:, 1].tolist() == [0, 0, 50, 150 - 50]
    assert f.running_th[2].tolist() == [100, 50]
    # Day 3: revenue $0.05/TH-day is below old's $0.12: it stops, new machines replace its hashrate.
    assert f.running_th[3].tolist() == [0, 150] and f.installed_th[3].tolist() == [100, 150]


def test_a_fall_in_hashrate_switches_off_the_dearest_first_and_loss_making_hashrate_is_counted():
    old, new = _gen("old", dt.date(2020, 1, 1), 100.0), _gen("new", dt.date(2024, 1, 2), 20.0)
    f = simulate.simulate(_days([100, 150, 60], [1.0, 1.0, 1.0]), [old, new], P)
    assert f.running_th[1].tolist() == [100, 50]
    assert f.running_th[2].tolist() == [10, 50]  # the cheapest (new) run first, old fills the rest
    # When nothing pays (revenue below even the newest's $0.024), the observed hashrate still runs, at a loss.
    g = simulate.simulate(_days([100, 100], [1.0, 0.001]), [new], P)
    assert g.running_th[1].tolist() == [100] and g.at_a_loss_th[1] == 100


def test_depreciation_of_the_running_machines_by_hand():
    s21 = data.Generation(name="S21 / M60 (2024)", release=dt.date(2024, 1, 1), j_per_th=17.5, models=())
    f = simulate.simulate(_days([100, 100, 50], [1.0, 1.0, 1.0]), [s21], P)
    life = round(5 * 365.25)
    price = data.price_at(data.price_points(s21.name), dt.date(2024, 1, 1))  # $14/TH purchase order, 2023-10-11
    assert price == 14.0
    assert f.depreciation_usd_day[0, 0] == pytest.approx(100 * 14.0 / life)
    # Half the machines idle on day 2: only the running half is charged.
    assert f.depreciation_usd_day[2, 0] == pytest.approx(100 * 14.0 / life * 0.5)
    # Machines bought before any price observation carry none, and are counted as unpriced.
    early = simulate.simulate(_days([100], [1.0], start=dt.date(2023, 1, 1)), [s21], P)
    assert early.depreciation_usd_day[0, 0] == 0 and early.unpriced_th[0, 0] == 100


def test_cost_definitions_by_hand():
    a, b = _gen("a", dt.date(2020, 1, 1), 30.0), _gen("b", dt.date(2024, 1, 2), 15.0)
    p = {**P, "pue": 1.1, "non_energy_opex_usd_kwh": 0.01}
    f = simulate.simulate(_days([100, 150], [1.0, 1.0], btc=450.0), [a, b], p)
    c = costs.curve(f, 1, p)
    assert c.share.tolist() == pytest.approx([100 / 150, 50 / 150])
    thsec = 150 * 86_400 / 450.0
    kwh_a = thsec * 30.0 * 1.1 / 3.6e6
    assert c.kwh_per_btc[0] == pytest.approx(kwh_a)
    assert c.electricity()[0] == pytest.approx(kwh_a * 0.05)
    assert c.cash()[0] == pytest.approx(kwh_a * 0.06)
    assert c.all_in()[0] == pytest.approx(c.cash()[0] + c.depreciation_usd_per_btc[0])
    assert c.marginal() == pytest.approx(c.cash()[0])  # "a" (30 J/TH) is the least efficient running
    assert c.weighted(c.electricity()) == pytest.approx((100 * 30.0 + 50 * 15.0) / 150 * thsec * 1.1 / 3.6e6 * 0.05)
    assert c.network_power_gw == pytest.approx((100 * 30.0 + 50 * 15.0) * 1.1 / 1e9)
    h = costs.history(f, p)
    assert h["cash"].iloc[1] == pytest.approx(c.weighted(c.cash()))
    assert h["all_in"].iloc[1] == pytest.approx(c.weighted(c.all_in()))
    assert h["marginal"].iloc[1] == pytest.approx(c.marginal())


def test_underwater_is_a_pure_function_of_the_cost_curve():
    c = costs.CostCurve(date=dt.date(2026, 2, 5), names=["new", "old"], j_per_th=np.array([15.0, 30.0]),
                        share=np.array([0.6, 0.4]), kwh_per_btc=np.array([1_000_000.0, 2_000_000.0]),
                        depreciation_usd_per_btc=np.array([30_000.0, 0.0]), power_price_usd_kwh=0.05,
                        non_energy_opex_usd_kwh=0.0, thsec_per_btc=1.0, running_th=1.0, network_power_gw=0.0,
                        unpriced_share=0.0)
    # all-in: new 50k + 30k = 80k; old 100k. At 90k only "old" is under water; at 0.02 $/kWh neither is.
    r = costs.underwater(c, 90_000, [0.05, 0.02])
    assert r[0.05]["total_pct"] == pytest.approx(40.0)
    assert r[0.05]["by_generation"]["old"]["underwater"] and not r[0.05]["by_generation"]["new"]["underwater"]
    assert r[0.02]["total_pct"] == 0.0
    assert costs.underwater(c, 60_000, basis="cash")[0.05]["total_pct"] == pytest.approx(40.0)
    with pytest.raises(ValueError):
        costs.underwater(c, 60_000, basis="capex")


def test_the_parameter_catalogue_and_declared_ids_cover_the_split_miners_area():
    from btcstress import declared
    cat = {p["name"]: p for p in declared.catalogue() if p["area"] == "miners"}
    for k, v in fleet.params.SOURCES.items():  # what `btcstress params` and the MCP params tool print
        assert cat[k]["default"] == v["value"], k
        assert v["source"] in cat[k]["source"] and (not v["url"] or v["url"] in cat[k]["source"]), k
    assert "NOT VERIFIED" in cat["pue"]["source"]
    ids = declared.finding_ids()
    for fid in ("miners.production_cost_usd", "miners.cash_cost_usd", "miners.reserve_btc",  # miners.py, _flows
                "miners.published_cost_usd", "miners.cambridge_electricity_twh"):  # miners_cited.py
        assert ids.get(fid) == "miners", fid
