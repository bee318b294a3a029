"""The brief: three formats, self-contained HTML, every number traceable, no look-ahead."""

from __future__ import annotations

import json
import re

import pytest

from typer.testing import CliRunner

from btcstress import brief, metrics
from btcstress.brief import render
from btcstress.cli import app
from tests.conftest import CRASH, utc

runner = CliRunner()


def test_report_writes_markdown_html_and_json(tmp_path, snapshot_db):
    r = runner.invoke(app, ["--db", str(snapshot_db), "report", "--as-of", "2026-02-06T08:00Z", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    md = (tmp_path / "brief.md").read_text()
    html = (tmp_path / "brief.html").read_text()
    data = json.loads((tmp_path / "brief.json").read_text())
    assert md.startswith("# Bitcoin market stress brief") and "Bitcoin falls 14%" in md
    assert "2024 US presidential election" in md
    assert data["as_of"].startswith("2026-02-06T08:00") and data["findings"]
    assert 3 <= len(data["highlights"]) <= 5
    # Self-contained: Plotly is inline and nothing is loaded from the network.
    assert "Plotly.newPlot" in html and not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', html)


def test_every_number_in_the_html_carries_its_provenance(crash_brief):
    b = crash_brief
    html = render.html(b, inline_js=False)
    spans = re.findall(r'<span class="num[^"]*" title="([^"]+)">', html)
    assert len(spans) > 15
    assert all(" · as of 2026-02-06T08:00:00Z" in t and "sources:" in t for t in spans)
    md = render.markdown(b)
    body, notes = md.split("## Notes on the numbers")
    used = set(re.findall(r"\[\^(\d+)\]", body))
    defined = set(re.findall(r"^\[\^(\d+)\]:", notes, flags=re.M))
    assert used == defined


def test_sources_section_lists_each_dataset_with_its_coverage(crash_brief):
    b = crash_brief
    origins = {d.origin for d in b.datasets}
    assert "snapshot/price/binance_spot_btcusdt_1h_2026-01_2026-02.csv" in origins
    assert "snapshot/marketcap/derived_total_crypto_market_cap_daily.csv" in origins
    assert all(d.rows > 0 for d in b.datasets)


def test_charts_show_180_days_and_the_48h_path_with_the_low_marked(crash_brief):
    b = crash_brief
    charts = {c.id: c for s in b.sections for c in s.charts}
    assert len(charts["price_daily"].figure["data"][0]["x"]) == 180
    hourly = charts["price_hourly"].figure["data"]
    assert len(hourly[0]["x"]) == 48 and hourly[-1]["y"] == [60000.0]


def test_a_brief_before_the_crash_does_not_know_it(store):
    b = brief.build(metrics.compute(store, utc(2026, 2, 5, 12), with_series=True))
    text = render.markdown(b)
    assert "60,000" not in text and "February 6" not in text


def test_a_brief_from_2016_renders_with_not_available_parts(store):
    b = brief.build(metrics.compute(store, utc(2016, 6, 1), with_series=True))
    text = render.markdown(b)
    assert "not available" in text and "Bitcoin" in b.headline.parts[0]
