"""The area registry: a sixth force is one folder plus one registration line, and every reader of the
registry (metrics, brief, "Why it fell", claims, monitor, connectors' pulls, declared ids, API) picks it
up; a missing or broken area is an error at start, never a skip."""

from __future__ import annotations

import sys
import textwrap

import duckdb
import pytest

from btcstress import areas
from tests.conftest import CRASH

TOY_INIT = '''
"""A toy force: how many daily bars the store knows in the week before the as-of instant."""
from btcstress.areas import Area, FindingSpec as F

AREA = Area(name="toy", title="Toy", prefixes=("toy",), metrics="toyforce.metrics", section="toyforce.section",
            claim_rules="toyforce.claims", charts=True, priced=True, pulls=("binance",), force="Toy pressure",
            pressure=(("toy.pressure_usd", None),),
            findings=(F("toy.bars_7d", "bars", "BTC", "daily bars stored for the 7 days before T"),
                      F("toy.pressure_usd", "USD", "BTC", "the price, as a toy pressure")))
'''
TOY_METRICS = '''
import datetime as dt
from btcstress.findings import Finding, Series

def findings(ctx):
    c = ctx.table("candles")
    week = c.filter((c.interval == "1d") & (c.open_time >= ctx.as_of_naive - dt.timedelta(days=7)))
    n = int(week.count().execute())
    price, hypothetical, _ = ctx.price()
    return [Finding(id="toy.bars_7d", value=n, unit="bars", as_of=ctx.as_of, window="7d", method="daily bars"),
            Finding(id="toy.pressure_usd", value=price, unit="USD", as_of=ctx.as_of, window="1d",
                    hypothetical=hypothetical, unusual={"zscore": 99.0}, method="the price, as pressure")]

def series(ctx):
    return [Series(name="toy.bars", title="bars", unit="bars", x=["2026-02-05"], y=[1])]
'''
TOY_SECTION = '''
from btcstress.brief.model import Paragraph, Section

def build(fs):
    f = fs.get("toy.bars_7d")
    return Section(id="toy", title="Toy", paragraphs=[Paragraph.of(f"{f.value} daily bars in the week")])
'''
TOY_CLAIMS = '''
from btcstress.claims import ClaimRule

def _said(judge, f, holds):
    return [f"the toy area's own rule read {f.id} ({'holds' if holds else 'does not hold'})"]

RULES = [ClaimRule(ids=("toy.pressure_usd",), aliases=("toy.pressure",), alias_note="the toy's pressure",
                   per_btc=True, reasons=_said)]
'''


@pytest.fixture()
def toy(tmp_path, monkeypatch):
    """The toy area's folder on the path, registered with one line; the registry is restored after."""
    pkg = tmp_path / "toyforce"
    pkg.mkdir()
    for name, text in (("__init__.py", TOY_INIT), ("metrics.py", TOY_METRICS), ("section.py", TOY_SECTION),
                       ("claims.py", TOY_CLAIMS)):
        (pkg / name).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    areas.register("toyforce")  # the one registration line
    yield areas.get("toy")
    areas.unregister("toyforce")
    for m in [m for m in sys.modules if m.startswith("toyforce")]:
        del sys.modules[m]


def _bars_in_week(db) -> int:
    """The toy finding's value, straight from the store file in SQL (not through the metric)."""
    t = CRASH.replace(tzinfo=None)
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select count(*) from candles where interval = '1d' and available_at <= ? "
                           "and open_time >= ? - interval 7 day", [t, t]).fetchone()[0]


def test_the_registry_lists_the_five_forces_and_the_scenario_in_computing_order():
    assert areas.names() == ("price", "market", "miners", "etf", "leverage", "treasuries", "stress", "scenario")
    assert [a.force for a in areas.all() if a.force] == ["Market-wide selling", "Miners", "ETF flows", "Leverage",
                                                         "Corporate treasuries"]
    assert areas.of_finding("derivatives.open_interest_usd").name == "leverage"
    assert areas.of_finding("nothing.here") is None
    assert areas.closure(["treasuries"]) == ("price", "treasuries")
    assert areas.for_source("liquidations") == ("leverage",)


def test_a_toy_area_is_computed_written_ranked_checked_and_monitored(toy, store, snapshot_db):
    from btcstress import brief, claims, connectors, declared, metrics, monitor
    from btcstress.brief import why

    fs = metrics.compute(store, CRASH, with_series=True)
    assert fs.get("toy.bars_7d").value == _bars_in_week(snapshot_db) > 0
    assert fs.get("toy.pressure_usd").value == fs.get("price.last_usd").value  # read the earlier area's price
    assert "toy.bars" in fs.series

    b = brief.build(fs)
    assert any(s.title == "Toy" for s in b.sections)
    ranked = why.forces(fs)
    assert [f.name for f in ranked if f.name == "Toy pressure"] and len(ranked) == 6, [(f.name, f.score) for f in ranked]
    assert any("The six forces" in str(s.model_dump()) for s in b.sections)

    at_50k = metrics.compute(store, CRASH, price=50_000.0, areas=areas.closure(["toy"]))
    assert at_50k.get("toy.pressure_usd").value == 50_000.0 and at_50k.get("toy.pressure_usd").hypothetical

    c = claims.parse([{"claim_id": "t1", "finding_id": "toy.pressure_usd", "subject": "BTC", "comparator": "gt",
                       "value": 1, "unit": "USD", "as_of": "2026-02-06", "window": "1d", "quote": "toy"}])
    assert claims.areas_for(c) == ("price", "toy")
    assert claims.check(store, c, CRASH)[0].verdict == "supported"
    # Its claim rules: an alias, the per-BTC tolerance (2%, not the 10% of USD totals), its own reason.
    price = fs.get("price.last_usd").value
    c = claims.parse([{"claim_id": "t2", "finding_id": "toy.pressure", "subject": "BTC", "comparator": "approx",
                       "value": price * 1.05, "unit": "USD", "as_of": "2026-02-06", "window": "1d", "quote": "toy"}])
    v = claims.check(store, c, CRASH)[0]
    assert v.finding["id"] == "toy.pressure_usd" and v.verdict == "contradicted"  # 5% off: outside 2%
    assert v.tolerance == "2% of the computed price"
    assert "'toy.pressure' is read as toy.pressure_usd (the toy's pressure)" in v.reason
    assert "the toy area's own rule read toy.pressure_usd (does not hold)" in v.reason

    assert monitor.area_of("toy.bars_7d") == "toy"
    monitor.validate([monitor.Rule(name="t", finding="toy.bars_7d", op=">", value=1)])  # raises when unknown
    assert areas.finding("toy.bars_7d").unit == "bars"
    assert "toy" in areas.for_source("binance") and "toy" in areas.priced()
    assert connectors.pulls() == ("binance", "mempool", "farside", "edgar")  # binance was declared already
    declared.finding_ids.cache_clear()
    try:
        assert declared.finding_ids()["toy.bars_7d"] == "toy"
    finally:
        declared.finding_ids.cache_clear()


def test_an_area_that_does_not_import_is_an_error_at_start_not_a_skip(tmp_path, monkeypatch):
    pkg = tmp_path / "brokenforce"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from btcstress.areas import Area\n"
                                     "AREA = Area(name='broken', title='B', prefixes=('broken',), "
                                     "metrics='brokenforce.metrics')\n")
    (pkg / "metrics.py").write_text("import a_module_that_is_not_there\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = areas.names()
    with pytest.raises(areas.AreaError, match="brokenforce.metrics"):
        areas.register("brokenforce")
    assert areas.names() == before  # refused, not half-registered
    with pytest.raises(areas.AreaError, match="no_such_area_module"):
        areas.register("no_such_area_module")


def test_a_registered_area_that_breaks_fails_the_cli_and_the_api_at_start(monkeypatch):
    from typer.testing import CliRunner

    from btcstress.cli import app
    monkeypatch.setattr(areas, "REGISTERED", [*areas.REGISTERED, "no_such_area_module"])
    areas._load.cache_clear()
    try:
        res = CliRunner().invoke(app, ["findings", "--as-of", "2026-02-06T08:00Z", "--json"])
        assert res.exit_code == 1 and "no_such_area_module" in res.output, res.output
        from btcstress.api import create_app
        with pytest.raises(areas.AreaError):
            create_app("unused.duckdb")
    finally:
        monkeypatch.undo()
        areas._load.cache_clear()


def test_claim_rules_for_another_areas_ids_are_refused(tmp_path, monkeypatch):
    pkg = tmp_path / "greedyforce"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from btcstress.areas import Area\n"
                                     "AREA = Area(name='greedy', title='G', prefixes=('greedy',), "
                                     "metrics='btcstress.metrics.market', claim_rules='greedyforce.claims')\n")
    (pkg / "claims.py").write_text("from btcstress.claims import ClaimRule\n"
                                   "RULES = [ClaimRule(ids=('etf.net_flow_usd',), per_btc=True), 'not a rule']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(areas.AreaError) as e:
        areas.register("greedyforce")
    assert "'etf.net_flow_usd' is outside the area's prefixes" in str(e.value)
    assert "'not a rule' is not a ClaimRule" in str(e.value)


def test_declarations_that_contradict_each_other_are_refused(tmp_path, monkeypatch):
    pkg = tmp_path / "clashforce"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from btcstress.areas import Area\n"
                                     "AREA = Area(name='clash', title='C', prefixes=('etf',), "
                                     "metrics='btcstress.metrics.market', requires=('later',))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(areas.AreaError) as e:
        areas.register("clashforce")
    assert "prefix 'etf' is already emitted by the etf area" in str(e.value)
    assert "requires 'later'" in str(e.value)


def test_a_chart_series_outside_the_areas_namespace_is_an_error(toy, store, monkeypatch):
    from btcstress import metrics
    from btcstress.findings import Series
    mod = toy.module()
    monkeypatch.setattr(mod, "series", lambda ctx: [Series(name="price.daily_180d", title="", unit="", x=[], y=[])])
    with pytest.raises(areas.AreaError, match="price.daily_180d"):
        metrics.compute(store, CRASH, areas=("price", "toy"), with_series=True)
