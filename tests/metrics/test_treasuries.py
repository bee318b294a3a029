"""Treasury findings: Strategy's 8-K holdings and cost at any instant, P&L at any price, mNAV,
holdings-only entities, totals, the chart series and the scenario hook."""

from __future__ import annotations


import pytest

from btcstress import metrics
from btcstress.findings import Finding
from btcstress.metrics import treasuries
from btcstress.metrics.context import Context
from tests.conftest import CRASH, utc

S = "Strategy"


_COMPUTED: dict[tuple, object] = {}


def tfs(store, as_of, price=None):
    """The price and treasury findings at (as_of, price), computed once per question for this module's
    tests, which only read them (eight tests ask for one of two questions at the crash)."""
    key = (str(store.path), as_of, price)
    if key not in _COMPUTED:
        _COMPUTED[key] = metrics.compute(store, as_of, price=price, areas=("price", "treasuries"))
    return _COMPUTED[key]


def test_strategy_as_of_the_crash_is_the_8k_filed_2026_02_02(store):
    fs = tfs(store, CRASH)
    h = fs.get("treasury.holdings_btc", S)
    assert h.value == 713502 and fs.value("treasury.avg_cost_usd", S) == 76052
    assert fs.value("treasury.cost_usd", S) == 54.26e9
    assert fs.value("treasury.breakeven_price_usd", S) == 76052
    assert h.detail["filing_date"] == "2026-02-02" and h.detail["document"] == "8k-2026-02-02-032731.html"
    assert h.sources[0].table == "treasury_holdings" and "SEC 8-K filed 2026-02-02" in h.sources[0].note
    assert h.window == "holdings as of 2026-02-01" and h.kind == "computed"


def test_pnl_at_a_hypothetical_55000_is_about_minus_15_billion_and_marked(store):
    fs = tfs(store, CRASH, price=55000)
    pnl = fs.get("treasury.unrealized_pnl_usd", S)
    assert pnl.value == pytest.approx(713502 * (55000 - 76052))
    assert pnl.value == pytest.approx(-15.0e9, rel=0.005)
    assert pnl.hypothetical and pnl.detail["price_usd"] == 55000
    assert fs.value("treasury.value_usd", S) == pytest.approx(713502 * 55000)
    assert fs.value("treasury.unrealized_pnl_pct", S) == pytest.approx((55000 / 76052 - 1) * 100)
    assert fs.get("treasury.value_usd", S).hypothetical
    # Not price-dependent: never marked hypothetical.
    assert not fs.get("treasury.holdings_btc", S).hypothetical and not fs.get("treasury.mnav", S).hypothetical
    total = fs.get("treasury.total_unrealized_pnl_usd")
    assert total.hypothetical and total.value == pytest.approx(pnl.value)


def test_pnl_uses_the_observed_price_finding_when_no_price_is_given(store):
    ctx = Context(store=store, as_of=CRASH)
    observed = Finding(id="price.last_usd", value=62809.0, unit="USD", as_of=CRASH)
    ctx.findings.append(observed)
    fs = {(f.id, f.subject): f for f in treasuries.findings(ctx)}
    pnl = fs[("treasury.unrealized_pnl_usd", S)]
    assert pnl.value == pytest.approx(713502 * (62809 - 76052)) and not pnl.hypothetical
    assert pnl.value == pytest.approx(-9.45e9, rel=0.002)  # SOURCES.md: -$9.45B at the 2026-02-05 close
    assert fs[("treasury.unrealized_pnl_pct", S)].value == pytest.approx(-17.4, abs=0.05)
    assert pnl.detail["price_from"] == "price.last_usd"


def test_pnl_equals_holdings_times_price_less_average_at_the_findings_own_price(store):
    fs = tfs(store, CRASH)
    last = fs.get("price.last_usd")
    assert last is not None and last.value is not None  # the price area always runs before treasuries
    pnl = fs.get("treasury.unrealized_pnl_usd", S)
    assert pnl.value == pytest.approx(713502 * (last.value - 76052)) and not pnl.hypothetical
    assert pnl.detail["price_usd"] == last.value
    assert last.sources[0] in pnl.sources


@pytest.mark.parametrize("as_of", [utc(2024, 12, 1), utc(2024, 12, 2)])  # --as-of 2024-12-01 and --date 2024-12-01
def test_as_of_2024_12_01_strategy_holds_what_the_8k_filed_2024_11_25_says(store, as_of):
    fs = tfs(store, as_of, price=55000)
    h = fs.get("treasury.holdings_btc", S)
    assert h.value == 386700 and h.detail["filing_date"] == "2024-11-25"
    assert fs.value("treasury.avg_cost_usd", S) == 56761


def test_a_filing_is_not_seen_before_the_end_of_its_filing_day(store):
    # The 8-K filed 2026-02-02 (US business hours) is invisible that evening UTC and seen from 02-03 00:00Z.
    before = tfs(store, utc(2026, 2, 2, 23, 59), price=70000)
    assert before.value("treasury.holdings_btc", S) == 712647
    assert before.get("treasury.holdings_btc", S).detail["filing_date"] == "2026-01-26"
    # Artemis' row dated 2026-02-02 (713,502) is not known before that day ends either.
    assert before.get("treasury.holdings_btc", S).detail["daily_series_btc"] == 712657
    after = tfs(store, utc(2026, 2, 3), price=70000)
    assert after.value("treasury.holdings_btc", S) == 713502


def test_entity_without_cost_has_artemis_holdings_flagged_and_no_cost(store):
    fs = tfs(store, CRASH, price=55000)
    h = fs.get("treasury.holdings_btc", "Metaplanet")
    assert h.value == 35102 and h.detail["basis"] == "daily"
    assert h.sources[0].note == "holdings from Artemis daily series; cost unknown"
    for fid in ("treasury.avg_cost_usd", "treasury.cost_usd", "treasury.unrealized_pnl_usd",
                "treasury.unrealized_pnl_pct", "treasury.breakeven_price_usd"):
        f = fs.get(fid, "Metaplanet")
        assert f.value is None and "cost is never estimated" in f.note
    assert fs.value("treasury.value_usd", "Metaplanet") == pytest.approx(35102 * 55000)


def test_totals_count_only_entities_with_known_cost(store):
    fs = tfs(store, CRASH, price=55000)
    total = fs.get("treasury.total_holdings_btc")
    assert total.subject == "entities with known cost" and total.value == 713502
    assert [e["entity"] for e in total.detail["entities"]] == [S]
    assert {e["entity"] for e in total.detail["entities_without_cost"]} == {
        "Metaplanet", "Twenty One Capital", "Nakamoto Holdings", "Strive", "American Bitcoin",
        "Bitcoin Standard Treasury Company"}


def test_mnav_is_cited_from_artemis_for_the_last_day_published(store):
    # Artemis' row for D counts from D+1 18:00 UTC (docs/DATA.md): at the crash morning the last
    # published row is 02-04's, from 18:00 on 02-06 it is 02-05's.
    assert tfs(store, CRASH).get("treasury.mnav", S).window == "1d:2026-02-04"
    fs = tfs(store, utc(2026, 2, 6, 18, 0))
    m = fs.get("treasury.mnav", S)
    assert m.kind == "cited" and m.window == "1d:2026-02-05"
    assert m.value == pytest.approx(1.0033152237619578)
    assert m.unusual["percentile"] <= 5 and m.unusual["zscore"] < -1  # a year's low premium
    strive = fs.get("treasury.mnav", "Strive")
    assert strive.value < 0 and "enterprise value" in strive.note
    assert fs.get("treasury.mnav", "Bitcoin Standard Treasury Company").value is None


def test_before_the_first_8k_strategy_holdings_come_from_artemis_without_cost(store):
    fs = tfs(store, utc(2021, 6, 1), price=30000)
    assert fs.value("treasury.holdings_btc", S) == 92079
    assert fs.value("treasury.avg_cost_usd", S) is None
    assert fs.get("treasury.total_holdings_btc").value is None


def test_the_defillama_snapshot_is_unseen_until_it_was_taken(store):
    crash = tfs(store, CRASH, price=70000)
    assert crash.get("treasury.cost_usd", "Metaplanet").value is None
    later = tfs(store, utc(2026, 4, 16), price=70000)
    s = later.get("treasury.holdings_btc", S)
    assert s.value == 766972 and s.detail["basis"] == "snapshot"
    assert "780,897" in s.note  # the Artemis series differs and the note says so
    assert later.value("treasury.avg_cost_usd", "Metaplanet") == pytest.approx(104106.58, abs=0.01)
    assert {e["entity"] for e in later.get("treasury.total_holdings_btc").detail["entities"]} >= {S, "Metaplanet", "Tesla"}


def test_strategy_series_steps_on_each_publication_day_and_starts_in_2020(store):
    ctx = Context(store=store, as_of=CRASH)
    (s,) = treasuries.series(ctx)
    by_day = dict(zip(s.x, s.y))
    price = dict(zip(s.x, s.extra["price_close_usd"]))
    assert s.x[0] == "2020-01-01" and s.x[-1] == "2026-02-05"
    assert by_day["2022-04-04"] is None and by_day["2022-04-05"] == 30700
    assert by_day["2026-02-01"] == 76037 and by_day["2026-02-02"] == 76052
    assert price["2026-02-05"] == pytest.approx(62809, abs=1)
    assert {src.table for src in s.sources} == {"candles", "treasury_holdings"}


def test_underwater_at_lists_entities_below_their_cost_deepest_first():
    T = CRASH
    fs = [Finding(id="treasury.holdings_btc", subject="A", value=100.0, as_of=T),
          Finding(id="treasury.avg_cost_usd", subject="A", value=80000.0, as_of=T),
          Finding(id="treasury.holdings_btc", subject="B", value=10.0, as_of=T),
          Finding(id="treasury.avg_cost_usd", subject="B", value=60000.0, as_of=T),
          Finding(id="treasury.holdings_btc", subject="C", value=5.0, as_of=T)]  # cost unknown: left out
    u = treasuries.underwater_at(fs, 55000)
    assert [x.entity for x in u] == ["A", "B"]
    assert u[0].pnl_usd == pytest.approx(100 * (55000 - 80000)) and u[0].pnl_pct == pytest.approx(-31.25)
    assert [x.entity for x in treasuries.underwater_at(fs, 70000)] == ["A"]


def test_underwater_at_from_real_findings_names_strategy_below_76052(store):
    fs = tfs(store, CRASH, price=55000)
    (u,) = treasuries.underwater_at(fs, 55000)
    assert u.entity == S and u.pnl_usd == pytest.approx(fs.value("treasury.unrealized_pnl_usd", S))
    assert treasuries.underwater_at(fs, 80000) == []


def test_treasury_params_are_echoed_and_unknown_ones_refused(store):
    fs = tfs(store, CRASH, price=55000)
    assert fs.get("treasury.holdings_btc", S).params["mnav_measure"] == "fd_ev_nav"
    from btcstress.errors import InputError
    with pytest.raises(InputError):
        metrics.compute(store, CRASH, params={"treasuries": {"nope": 1}}, areas=("treasuries",))
