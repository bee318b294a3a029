"""Parsing --price / --shock / --ladder: bad input is an InputError (exit code 2)."""

from __future__ import annotations

import pytest

from btcstress.errors import InputError
from btcstress.scenario import shock


@pytest.mark.parametrize("text,want", [("-20%", -20.0), ("-20", -20.0), (" +5 % ", 5.0), ("-7.5%", -7.5),
                                       ("-99.9%", -99.9), ("0", 0.0)])
def test_shocks_parse_as_percent(text, want):
    assert shock.parse_shock(text) == want


@pytest.mark.parametrize("text", ["-100%", "-120%", "-1000"])
def test_a_shock_of_minus_100_percent_or_below_is_refused(text):
    with pytest.raises(InputError, match="-100%"):
        shock.parse_shock(text)


@pytest.mark.parametrize("text", ["abc", "", "--20%", "20%%", "nan"])
def test_an_unparseable_shock_is_refused(text):
    with pytest.raises(InputError, match="expected a percent change"):
        shock.parse_shock(text)


def test_a_ladder_is_a_comma_separated_list_of_shocks():
    assert shock.parse_ladder("-10,-20%, -30") == [-10.0, -20.0, -30.0]
    with pytest.raises(InputError, match="--ladder"):
        shock.parse_ladder("-10,x")
    with pytest.raises(InputError, match="--ladder"):
        shock.parse_ladder("-10,-150")


@pytest.mark.parametrize("price", [0.0, -5.0, float("nan"), float("inf")])
def test_a_price_must_be_positive_and_finite(price):
    with pytest.raises(InputError, match="positive"):
        shock.check_price(price)


def test_a_shocked_price_is_the_current_price_times_one_plus_the_shock():
    assert shock.shocked_price(60000.0, -20.0) == pytest.approx(48000.0)
