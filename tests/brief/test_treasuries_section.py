"""The treasuries section: a table of companies and Strategy's cost-vs-price chart, numbers tied to findings."""

from __future__ import annotations

import pytest

from btcstress import metrics
from btcstress.brief.model import Ref
from btcstress.brief.sections import treasuries as section
from tests.conftest import CRASH


def _texts(parts):
    return "".join(p.text if isinstance(p, Ref) else p for p in parts)


def test_section_tables_every_company_and_charts_strategy_cost_vs_price(store):
    fs = metrics.compute(store, CRASH, price=55000, areas=("treasuries",), with_series=True)
    s = section.build(fs)
    (table,) = s.tables
    assert [r[0] for r in table.rows][0] == "Strategy" and len(table.rows) == 7
    strategy = table.rows[0]
    assert strategy[1].text == "713,502 BTC" and strategy[3].text == "$76,052"
    assert strategy[5].text == "-$15.0B" and strategy[5].finding.hypothetical
    assert "hypothetical" in table.caption
    metaplanet = next(r for r in table.rows if r[0] == "Metaplanet")
    assert metaplanet[3] == "not available" and metaplanet[2].endswith("Artemis (no cost)")
    lead = _texts(s.paragraphs[0].parts)
    assert "Strategy holds 713,502 BTC (SEC 8-K filed February 2, 2026" in lead
    assert "hypothetical $55,000" in lead and "an unrealized loss of $15.0B" in lead  # the word carries the sign
    (chart,) = s.charts
    assert [t["name"] for t in chart.figure["data"]] == ["BTC daily close (USD)", "Strategy average cost"]
    assert chart.figure["data"][1]["line"]["shape"] == "hv" and chart.sources


def test_highlight_names_strategys_unrealized_loss_at_the_observed_price(store):
    fs = metrics.compute(store, CRASH, areas=("price", "treasuries"), with_series=True)
    hl = section.highlights(fs)
    text = _texts(hl[0].paragraph.parts)
    pnl = fs.get("treasury.unrealized_pnl_usd", "Strategy")
    assert text.startswith("Strategy is sitting on an unrealized loss of $") and "713,502 BTC" in text
    assert hl[0].score == abs(fs.get("treasury.unrealized_pnl_pct", "Strategy").unusual["zscore"]) > 2
    assert pnl.value == pytest.approx(713502 * (fs.value("price.last_usd") - 76052))
    # A year's low mNAV (02-05's Artemis row, public from 02-06 18:00 UTC) is a highlight too.
    from tests.conftest import utc
    later = metrics.compute(store, utc(2026, 2, 6, 18, 0), areas=("price", "treasuries"), with_series=True)
    assert any("EV/NAV" in _texts(h.paragraph.parts) for h in section.highlights(later))


def test_section_is_absent_when_no_treasury_is_known(store):
    from tests.conftest import utc
    fs = metrics.compute(store, utc(2020, 1, 1), areas=("treasuries",))
    assert section.build(fs) is None
