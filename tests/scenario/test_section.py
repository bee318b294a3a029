"""The brief's scenario section: a price ladder table whose every number points at scenario.ladder."""

from __future__ import annotations

import pytest

from btcstress import brief, metrics
from btcstress.brief.model import Ref
from btcstress.brief.sections import scenario as section
from btcstress.findings import FindingSet
from tests.conftest import CRASH


@pytest.fixture()
def fs(crash_findings):
    return crash_findings  # computed once per session (tests/conftest.py)


def test_the_section_is_a_ladder_of_three_shocks_with_every_column(fs):
    s = section.build(fs)
    assert s is not None and s.id == "scenario"
    t = s.tables[0]
    assert [r[0] for r in t.rows] == ["-10%", "-20%", "-30%"]
    assert len(t.columns) == len(t.rows[0]) == 9
    assert t.rows[0][1].text == "$58,370"
    ladder = fs.get("scenario.ladder")
    refs = [c for r in t.rows for c in r if isinstance(c, Ref)]
    assert refs and all(c.finding is ladder for c in refs)
    assert "Strategy" in t.rows[-1][7].text


def test_the_lead_names_the_worst_rung_and_its_cascade(fs):
    text = "".join(p if isinstance(p, str) else p.text for p in section.build(fs).paragraphs[0].parts)
    assert text.startswith("From $64,856") and "At -30% ($45,399)" in text and "Strategy" in text


def test_no_ladder_no_section():
    assert section.build(FindingSet(CRASH, [])) is None


def test_the_brief_includes_the_section_after_treasuries(fs):
    b = brief.build(fs)
    ids = [s.id for s in b.sections]
    assert "scenario" in ids and ids.index("scenario") == len(ids) - 1
