"""`btcstress stress` and `btcstress episodes` print the stress area's findings."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from btcstress import metrics
from btcstress.cli import app
from tests.conftest import CRASH

runner = CliRunner()


def test_stress_command_prints_the_index_and_every_force(snapshot_db, store):
    expected = metrics.compute(store, CRASH, areas=("stress",)).get("stress.index")
    r = runner.invoke(app, ["--db", str(snapshot_db), "stress", "--as-of", "2026-02-06T08:00Z"])
    assert r.exit_code == 0, r.output
    assert f"stress index {expected.value:+.2f} ({expected.detail['n_components']} of 6 forces" in r.output
    for force in ("Price move", "Market-wide selling", "ETF flows", "Corporate treasuries"):
        assert force in r.output
    j = runner.invoke(app, ["--db", str(snapshot_db), "stress", "--as-of", "2026-02-06T08:00Z", "--json"])
    assert json.loads(j.output)[0]["value"] == expected.value


def test_episodes_command_prints_the_episodes_with_their_outcomes(snapshot_db):
    r = runner.invoke(app, ["--db", str(snapshot_db), "episodes", "--as-of", "2026-02-06T08:00Z", "--top", "2",
                            "--json"])
    assert r.exit_code == 0, r.output
    found = json.loads(r.output)
    eps = [f for f in found if f["id"] == "stress.episode"]
    assert len(eps) == 2 and eps[0]["detail"]["distance"] <= eps[1]["detail"]["distance"]
    table = runner.invoke(app, ["--db", str(snapshot_db), "episodes", "--as-of", "2026-02-06T08:00Z", "--top", "2"])
    assert eps[0]["value"] in table.output and "median" in table.output
    bad = runner.invoke(app, ["--db", str(snapshot_db), "episodes", "--as-of", "not-a-time"])
    assert bad.exit_code == 2
