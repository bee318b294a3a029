"""Published production-cost estimates: the importer, cited findings (never mixed with the model),
definition matching, `btcstress cite` entries, and the walk-forward validation kept running."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import statistics

import pytest

from btcstress import ingest, metrics
from btcstress.metrics import miners_cited
from btcstress.metrics.context import Context
from btcstress.parsers import citations, published_costs
from btcstress.store import Store

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
CRASH = dt.datetime(2026, 2, 6, 8, 0, tzinfo=dt.timezone.utc)
HEADER = "publisher,published,date_precision,value_usd,definition,basis,source_url\n"


def test_importer_times_each_estimate_by_its_known_precision_and_quarantines_bad_rows():
    text = HEADER + "\n".join([
        "Acme,2024-02-29,day,26500,production cost,electricity at $0.05/kWh,https://example.org/a",
        "Acme,2024-12,month,45000,all-in cost,hashrate,https://example.org/b",
        "Acme,2024-13,month,1,all-in,x,https://example.org/c",
        "Acme,2024-06-01,week,1,all-in,x,https://example.org/d",
        "Acme,2024-06-01,day,-5,all-in,x,https://example.org/e",
        "Acme,2024-06-01,day,5,all-in,x,not-a-url"])
    p = published_costs.parse(text, "t.csv")
    rows = p.rows["citations"]
    assert [r["as_of"] for r in rows] == [dt.datetime(2024, 3, 1), dt.datetime(2025, 1, 1)]  # end of day / month
    assert rows[0]["finding_id"] == "miners.published_cost_usd" and rows[0]["subject"] == "Acme"
    assert rows[0]["window"] == "published:2024-02-29" and "electricity at $0.05/kWh" in rows[0]["note"]
    assert [(q["line"], q["field"]) for q in p.quarantine] == [(4, "published"), (5, "date_precision"),
                                                               (6, "value_usd"), (7, "source_url")]


def test_the_shared_file_is_imported_whole(store, snapshot_dir):
    with open(snapshot_dir / "miners" / "published_production_cost_estimates.csv", encoding="utf-8") as fh:
        shared = list(csv.DictReader(fh))
    t = store.table("citations")
    got = t.filter(t.finding_id == "miners.published_cost_usd").execute()
    assert len(got) == len(shared) == 6
    assert sorted(got["value"]) == sorted(float(r["value_usd"]) for r in shared)


def test_definitions_are_read_from_the_wording_and_a_publishers_series_keeps_its_method():
    assert miners_cited.definition_of("fully amortized cost to produce one BTC") == "all_in"
    assert miners_cited.definition_of("production cost; basis: electricity at $0.05/kWh") == "electricity"
    assert miners_cited.definition_of("cash cost per coin") == "cash"
    assert miners_cited.definition_of("production cost; basis: hashrate and difficulty") is None
    t0 = dt.datetime(2024, 1, 1)
    rows = miners_cited.classify([
        {"publisher": "A", "published": "2024-01", "known_from": t0, "note": "cost; basis: electricity at $0.05/kWh"},
        {"publisher": "B", "published": "2024-02", "known_from": t0 + dt.timedelta(days=30), "note": "cost"},
        {"publisher": "A", "published": "2024-03", "known_from": t0 + dt.timedelta(days=60), "note": "cost"},
        {"publisher": "A", "published": "2024-04", "known_from": t0 + dt.timedelta(days=90), "note": "all-in cost"}])
    assert [(r["definition"], r["definition_from"]) for r in rows] == [
        ("electricity", "stated"), (None, "not stated"), ("electricity", "inherited from A 2024-01"),
        ("all_in", "stated")]
    assert [r["power_price_usd_kwh"] for r in rows] == [0.05, None, 0.05, 0.05]


def test_cited_findings_at_the_crash_are_the_estimates_known_by_then_and_never_modelled(store):
    fs = metrics.compute(store, CRASH, areas=("price", "miners", "leverage"))
    pub = fs.all("miners.published_cost_usd")
    assert [(f.subject, f.detail["published"]) for f in pub] == [
        ("JPMorgan", "2024-02-29"), ("JPMorgan", "2024-06"), ("JPMorgan", "2025-11"), ("JPMorgan", "2026-01"),
        ("CryptoQuant", "2026-02-05")]  # JPMorgan 2026-02-12 is not known yet; leverage does not repeat them
    assert all(f.kind == "cited" and f.unit == "USD" and f.detail["url"].startswith("https://") for f in pub)
    assert fs.get("miners.published_cost_usd", "CryptoQuant").detail["definition"] == "all_in"
    # The model's finding is never a cited one, and get() without kind returns the model's.
    assert fs.get("miners.production_cost_usd").kind == "modelled"
    cam = fs.all("miners.cambridge_electricity_twh")
    assert {f.subject for f in cam} == {"2021", "2022", "2024"} and all(f.kind == "cited" for f in cam)
    twh24 = fs.get("miners.cambridge_electricity_twh", "2024")
    assert twh24.detail["average_power_gw"] == round(twh24.value * 1000 / (366 * 24), 2)


def test_an_estimate_recorded_with_btcstress_cite_is_shown_with_its_definition(tmp_path):
    parsed = citations.single({"finding": "miners.published_cost_usd", "subject": "Analyst X", "value": "81000",
                               "unit": "USD", "as_of": "2026-02-03T12:00Z", "window": "published:2026-02-03",
                               "source": "Analyst X note", "url": "https://example.org/x",
                               "note": "definition: all-in cost incl. depreciation"}, "cite:cli")
    with Store(tmp_path / "s.duckdb") as s:
        ingest.run(s, [(None, "cite:cli", parsed)])
        f = miners_cited.published_findings(Context(store=s, as_of=CRASH))
        assert [(x.subject, x.value, x.detail["definition"], x.kind) for x in f] == [
            ("Analyst X", 81000.0, "all_in", "cited")]
        assert miners_cited.published_findings(Context(store=s, as_of=dt.datetime(2026, 2, 3, 11, 59,
                                                                                    tzinfo=dt.timezone.utc))) == []


def _validation():
    spec = importlib.util.spec_from_file_location("miners_validation", ROOT / "benchmarks" / "miners_validation.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_walk_forward_validation_runs_on_the_snapshot_and_matches_the_docs(store):
    v = _validation()
    r = v.validate(store)
    rows = r["rows"]
    assert len(rows) == 6
    for x in rows:  # each row compared under its own definition, its error derived from the two values
        assert x["model_usd"] is not None, x
        assert x["error_pct"] == round(100 * (x["model_usd"] / x["value_usd"] - 1), 1)
        assert x["model_as_of"] <= v.model_instant(x["published"])
        assert x["model_window"] < f"1d:{x['published'][:10]}"  # only days before the publication
    assert r["median_abs_error_pct"] == round(statistics.median(abs(x["error_pct"]) for x in rows), 1)
    # One row recomputed independently: CryptoQuant's all-in estimate against the model as of its day.
    cq = next(x for x in rows if x["publisher"] == "CryptoQuant")
    fs = metrics.compute(store, dt.datetime(2026, 2, 5, tzinfo=dt.timezone.utc), areas=("miners",))
    assert cq["definition"] == "all_in" and cq["model_usd"] == fs.value("miners.production_cost_usd")
    # The table in docs/METRICS.md is this run's output (regenerate it when the model changes).
    docs = (ROOT / "docs" / "METRICS.md").read_text(encoding="utf-8")
    for line in v.markdown(r).splitlines():
        assert line in docs, line
