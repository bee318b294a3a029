"""POST /check (the claim checker) and GET /scenario (the scenario engine) over HTTP."""

from __future__ import annotations

import pytest

from tests.api.conftest import CRASH_Q

CLAIMS_CSV = ("claim_id,finding_id,subject,comparator,value,unit,as_of,window,quote\n"
              "a1,price.low_24h_usd,BTC,approx,60030,USD,2026-02-06,24h,Bitcoin touched $60,030\n"
              "a2,price.low_24h_usd,BTC,lt,50000,USD,2026-02-06,24h,Bitcoin fell below $50k\n")


def test_check_gives_verdicts_for_a_csv_body(client):
    r = client.post(f"/check?{CRASH_Q}", content=CLAIMS_CSV, headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    by_id = {v["claim_id"]: v for v in r.json()["verdicts"]}
    assert by_id["a1"]["verdict"] == "supported" and by_id["a1"]["computed"] == pytest.approx(60000.0)
    assert by_id["a2"]["verdict"] == "contradicted" and by_id["a2"]["reason"]


@pytest.mark.parametrize("body,ctype,text", [
    ("garbage", "text/csv", "missing column"),
    ("{not json", "application/json", "invalid JSON"),
    ("[1, 2]", "application/json", "expected objects"),
    ('{"claims": 5}', "application/json", "expected a JSON array"),
])
def test_check_refuses_a_malformed_body_clearly(client, body, ctype, text):
    r = client.post(f"/check?{CRASH_Q}", content=body, headers={"content-type": ctype})
    assert r.status_code == 400 and text in r.json()["message"]


def test_scenario_at_55k_and_as_a_shock(client):
    body = client.get(f"/scenario?{CRASH_Q}&price=55000").json()
    ids = {f["id"] for f in body["findings"]}
    assert body["price"] == 55000 and body["observed_price"] == pytest.approx(64856.0)
    assert {"scenario.liquidations_usd", "scenario.cascade_price_usd", "scenario.hashrate_underwater_pct"} <= ids
    assert all(f["hypothetical"] for f in body["findings"] if f["id"] != "scenario.ladder")
    strategy = [f for f in body["findings"] if f["id"] == "treasury.unrealized_pnl_usd" and f["subject"] == "Strategy"]
    assert strategy[0]["value"] == pytest.approx(-15.02e9, rel=1e-3)
    shock = client.get(f"/scenario?{CRASH_Q}&shock=-20%25").json()
    assert shock["shock_pct"] == -20.0 and shock["price"] == pytest.approx(64856.0 * 0.8)


@pytest.mark.parametrize("query,text", [
    ("", "exactly one of"), ("&price=50000&shock=-5", "exactly one of"), ("&shock=-150%25", "100% or more"),
    ("&shock=lots", "percent change"),
])
def test_scenario_refuses_bad_input(client, query, text):
    r = client.get(f"/scenario?{CRASH_Q}{query}")
    assert r.status_code == 400 and text in r.json()["message"]
