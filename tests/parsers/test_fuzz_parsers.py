"""Property-based fuzzing of every parser and live-message parser (hypothesis; the light, in-suite
version of scripts/fuzz_parsers.py). The property (tests/fuzz_harness.check): no exception out of a
parser but ParseError, every data line stored, skipped with a reason or quarantined, and nothing
non-finite or out of its physical bounds among what would be stored."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzz_harness as h

NAMES = sorted(h.PARSERS)
LIGHT = settings(max_examples=40, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("name", NAMES)
def test_the_sample_itself_is_stored(name):
    """The hand-written sample is valid: mutations start from something the parser accepts."""
    assert h.check(name, h.PARSERS[name][1]) == "stored"


@pytest.mark.parametrize("name", NAMES)
def test_truncation_at_every_offset(name):
    for text in h.truncations(name):
        h.check(name, text)


@pytest.mark.parametrize("name", NAMES)
@LIGHT
@given(rnd=st.randoms(use_true_random=False))
def test_mutations(name, rnd):
    _, sample, kind = h.PARSERS[name]
    text = sample
    for _ in range(rnd.randrange(1, 4)):
        text = h.mutate_text(text, kind, rnd)
    h.check(name, text)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=15, deadline=None, derandomize=True)
@given(text=st.text(max_size=300))
def test_arbitrary_text(name, text):
    h.check(name, text)


@pytest.mark.parametrize("name", [n for n in NAMES if h.PARSERS[n][2] == "csv"])
@settings(max_examples=15, deadline=None, derandomize=True)
@given(line=st.text(alphabet=st.characters(codec="utf-8"), max_size=120))
def test_an_arbitrary_data_line_after_a_valid_header(name, line):
    header = h.PARSERS[name][1].split("\n", 1)[0]
    h.check(name, header + "\n" + line + "\n")
