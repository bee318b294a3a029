"""`btcstress scenario` end to end through the CLI runner; bad input exits with code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from btcstress.cli import app

runner = CliRunner()
T = ["--as-of", "2026-02-06T08:00Z"]


def test_scenario_at_a_price_prints_json_with_every_finding_revalued(snapshot_db):
    r = runner.invoke(app, ["--db", str(snapshot_db), "scenario", *T, "--price", "55000", "--json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["price"] == 55000.0 and body["as_of"] == "2026-02-06T08:00:00Z"
    out = {(f["id"], f["subject"]): f for f in body["findings"]}
    liq = out[("scenario.liquidations_usd", "BTC")]
    assert liq["hypothetical"] and liq["kind"] == "modelled" and liq["value"] > 0 and liq["sources"]
    assert out[("treasury.unrealized_pnl_usd", "Strategy")]["hypothetical"]
    assert not out[("price.last_usd", "BTC")]["hypothetical"]


def test_a_shock_and_a_ladder_answer_from_the_last_price(snapshot_db):
    r = runner.invoke(app, ["--db", str(snapshot_db), "scenario", *T, "--shock", "-20%"], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    assert "scenario.cascade_price_usd" in r.output and "51,885" in r.output  # 64,856 x 0.8
    r = runner.invoke(app, ["--db", str(snapshot_db), "scenario", *T, "--ladder", "-10,-30"], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    assert "-10%" in r.output and "-30%" in r.output and "$58,370" in r.output


@pytest.mark.parametrize("args,msg", [
    (["--price", "0"], "positive"),
    (["--price", "-55000"], "positive"),
    (["--shock", "-120%"], "-100%"),
    (["--shock", "twenty"], "expected a percent change"),
    (["--ladder", "-10,-200"], "--ladder"),
    (["--price", "55000", "--shock", "-10%"], "exactly one"),
    ([], "exactly one"),
    (["--param", "scenario.nope=1", "--price", "55000"], "unknown parameter scenario.nope"),
])
def test_bad_input_exits_2_with_a_clear_message(snapshot_db, args, msg):
    r = runner.invoke(app, ["--db", str(snapshot_db), "scenario", *T, *args])
    assert r.exit_code == 2, r.output
    assert msg in r.output


def test_an_as_of_with_no_data_exits_2(snapshot_db):
    r = runner.invoke(app, ["--db", str(snapshot_db), "scenario", "--date", "2030-01-01", "--price", "55000"])
    assert r.exit_code == 2 and "no price data after" in r.output
