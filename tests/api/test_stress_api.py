"""GET /stress and GET /episodes serve the stress area's findings as the metrics compute them."""

from __future__ import annotations

from btcstress import metrics
from tests.api.conftest import CRASH_Q
from tests.conftest import CRASH


def test_stress_serves_the_index_and_its_components(client, store):
    r = client.get(f"/stress?{CRASH_Q}")
    assert r.status_code == 200, r.text
    got = {f["id"]: f for f in r.json()["findings"]}
    expected = metrics.compute(store, CRASH, areas=("stress",)).get("stress.index")
    assert got["stress.index"]["value"] == expected.value and got["stress.index"]["sources"]
    assert {f"stress.component.{k}" for k in ("price", "market", "miners", "etf", "leverage", "treasuries")} <= set(got)
    assert "stress.index_highest_since" in got


def test_episodes_serves_the_nearest_days_and_what_came_next(client):
    r = client.get(f"/episodes?{CRASH_Q}&top=3")
    assert r.status_code == 200, r.text
    eps = [f for f in r.json()["findings"] if f["id"] == "stress.episode"]
    assert [e["subject"] for e in eps] == ["#1", "#2", "#3"]
    assert all(set(e["detail"]["forward"]) == {"1d", "7d", "30d"} for e in eps)
    assert client.get(f"/episodes?{CRASH_Q}&top=0").status_code in (400, 422)
