"""The brief writes itself from findings: headline, highlights ranked by how unusual they are, the
"Why it fell" ranking of the five forces, and a brief for any day from 2018 to the end of the data."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from btcstress import brief, metrics
from btcstress.brief import Highlight, choose_highlights, render, why
from btcstress.brief.model import Paragraph
from btcstress.brief.sections import headline
from btcstress.findings import Finding, FindingSet
from tests.conftest import CRASH, utc


@pytest.fixture()
def crash(crash_findings, crash_brief):
    return crash_findings, crash_brief  # each built once per session (tests/conftest.py)


def _text(p: Paragraph) -> str:
    return "".join(x if isinstance(x, str) else x.text for x in p.parts)


def test_headline_is_the_day_move_and_the_gains_it_erased(crash):
    _, b = crash
    assert _text(b.headline) == ("Bitcoin falls 14% to $62,809 on February 5, erasing its gains since the "
                                 "2024 US presidential election")


def _below(*events, decisive=True) -> FindingSet:
    f = Finding(id="price.below_event", value=[e[0] for e in events], unit="events", as_of=CRASH,
                detail={"events": [{"id": i, "title": i, "date": d, "category": c, "close": 1.0,
                                    "decisive_break": decisive} for i, d, c in events]})
    return FindingSet(CRASH, [f])


def test_gains_since_prefers_policy_milestones_then_halvings_oldest_first():
    both = _below(("peak-2025", "2025-10-06", "cycle"), ("inauguration", "2025-01-20", "politics"),
                  ("election", "2024-11-05", "politics"), ("halving-2024", "2024-04-20", "halving"))
    assert headline.gains_since_event(both)["id"] == "election"
    assert headline.gains_since_event(_below(("halving-2024", "2024-04-20", "halving")))["id"] == "halving-2024"
    assert headline.gains_since_event(_below(("peak-2025", "2025-10-06", "cycle"),
                                             ("crash", "2025-04-07", "crash"))) is None
    # Below an event's close without a decisive recent break (crossing back and forth): no "gains since".
    assert headline.gains_since_event(_below(("election", "2024-11-05", "politics"), decisive=False)) is None


def test_election_break_in_the_crash_was_decisive_and_recent(crash):
    fs, _ = crash
    e = next(e for e in fs.get("price.below_event").detail["events"] if e["id"] == "us-election-2024")
    assert e["decisive_break"] is True and e["share_above_before"] >= 0.8
    assert e["broke_below"] >= "2026-01-06"  # within 30 days of the crash


def test_highlights_are_the_most_unusual_findings_with_their_statistic(crash):
    _, b = crash
    texts = [_text(h) for h in b.highlights]
    assert 3 <= len(texts) <= 5
    assert all("σ" in t or "%" in t for t in texts)
    assert texts[0].startswith("Bitcoin fell 14.0% on February 5, 2026, a -6.4σ day")
    assert any("28,605 BTC" in t and "+6.1σ" in t for t in texts)  # miners' outflow, the highest of the year


def test_highlight_choice_takes_one_per_area_then_fills_to_three():
    h = lambda score, area: Highlight(score, Paragraph.of(f"{area} {score}"), area)  # noqa: E731
    got = choose_highlights([h(6, "price"), h(5, "price"), h(4, "miners"), h(1, "etf"), h(0.5, "leverage")])
    assert [(x.area, x.score) for x in got] == [("price", 6), ("price", 5), ("miners", 4)]
    many = choose_highlights([h(9 - i, a) for i, a in enumerate(["a", "b", "c", "d", "e", "f"])])
    assert len(many) == 5


def test_why_it_fell_ranks_the_five_forces_by_their_z_scores(crash):
    fs, b = crash
    ranked = why.forces(fs)
    assert [f.name for f in ranked[:3]] == ["Miners", "Market-wide selling", "Leverage"]
    assert {f.name for f in ranked[3:]} == {"Corporate treasuries", "ETF flows"}
    scores = [f.score for f in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(f.score == abs(f.evidence.unusual["zscore"]) for f in ranked)
    section = b.sections[0]
    assert section.id == "why" and section.title == "Why it fell"
    text = _text(section.paragraphs[0])
    assert text.startswith("Most abnormal: miners — 28,605 BTC leaving miner wallets on February 5, 2026")
    etf = next(f for f in ranked if f.name == "ETF flows").evidence
    assert "(+6.1σ, the highest of the past year)" in text and why.stat(etf) in text
    assert "not how much of the move it caused" in text


def test_every_number_in_the_why_table_links_to_its_finding(crash):
    _, b = crash
    html = render.html(b, inline_js=False)
    start = html.index('<section id="why">')
    why_html = html[start:html.index('<section id=', start + 1)]  # up to the next section
    cells = re.findall(r"<td[^>]*>(.*?)</td>", why_html)
    shown = lambda c: re.sub(r"<sup>.*?</sup>|<[^>]+>", "", c)  # noqa: E731
    numbers = [c for c in cells if re.match(r"[-+]?\$?\d", shown(c)) and not re.fullmatch(r"\d", shown(c))]
    assert len(numbers) == 10  # value and statistic for each of the five forces
    assert numbers and all('title="' in c and "sources:" in c for c in numbers)


def test_brief_json_carries_what_the_claim_checker_needs(crash):
    _, b = crash
    data = json.loads(render.to_json(b))
    net = next(f for f in data["findings"] if f["id"] == "etf.net_flow_usd")
    assert net["detail"]["vintages"] and net["detail"]["missing_funds"] == ["IBIT"] and net["unusual"]["zscore"] < 0
    assert {s["id"] for s in data["sections"]} >= {"why", "price", "market", "miners", "etf", "leverage", "treasuries"}


# A brief for any day renders, saying "not available" for what the day lacks. Findings without charts
# for speed, except one early date that also draws whatever series exist.
DATES = [utc(2018, 1, 1), utc(2020, 3, 13), utc(2022, 11, 9), utc(2024, 1, 11), utc(2025, 7, 1), utc(2026, 4, 12)]


@pytest.mark.parametrize("as_of", DATES, ids=lambda d: d.date().isoformat())
def test_a_brief_renders_for_any_day(store, as_of):
    fs = metrics.compute(store, as_of, with_series=as_of.year == 2018)
    b = brief.build(fs)
    md, html = render.markdown(b), render.html(b, inline_js=False)
    json.loads(render.to_json(b))
    # (at 2018-01-01 00:00 the last published close, 2017-12-30's, is flagged: "Bitcoin's close on ... is
    # not stated here", so the headline names "Bitcoin" but not always as "Bitcoin ")
    assert "Bitcoin" in _text(b.headline) and "<h1>" in html and "## Notes on the numbers" in md
    from btcstress.brief.lint import lint
    assert lint(b) == []
    if as_of < dt.datetime(2024, 1, 11, tzinfo=dt.timezone.utc):
        assert "not available" in md  # no ETF flows yet
