import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalefit.data.units import UnitError, format_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [("70M", 70e6), ("1.4T", 1.4e12), ("6e23", 6e23), ("1,400,000", 1.4e6), ("2.8 B", 2.8e9),
     ("125m", 125e6), ("1.3b", 1.3e9), (".5K", 500.0), ("  16G ", 16e9), ("3P", 3e15), (7, 7.0),
     ("-2", -2.0), ("1.5e-3", 1.5e-3)],
)
def test_parses_numbers_and_suffixes(text, expected):
    assert parse_quantity(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("70 apples", "not a number"), ("1.4X", "unknown magnitude suffix 'X'"), ("1,40,000", "not a number"),
     ("", "not a number"), ("B", "not a number"), ("7MM", "not a number"), ("1e", "unknown magnitude suffix"),
     ("70Mb", "not a number"), (True, "boolean")],
)
def test_rejects_typos_with_reason(text, fragment):
    with pytest.raises(UnitError, match=fragment):
        parse_quantity(text)


def test_formats_with_largest_suffix():
    assert format_quantity(7e10) == "70B"
    assert format_quantity(1.4e12) == "1.4T"
    assert format_quantity(5.73e7) == "57.3M"
    assert format_quantity(999) == "999"
    assert format_quantity(-2.5e6) == "-2.5M"
    assert format_quantity(0) == "0"


@given(st.floats(min_value=1e-3, max_value=1e20, allow_nan=False, allow_infinity=False))
def test_full_precision_round_trip(value):
    assert parse_quantity(format_quantity(value, digits=None)) == pytest.approx(value, rel=4e-16, abs=0)


@given(st.floats(min_value=1.0, max_value=1e17), st.integers(min_value=1, max_value=6))
def test_rounded_format_is_within_its_digits(value, digits):
    parsed = parse_quantity(format_quantity(value, digits=digits))
    assert math.isclose(parsed, value, rel_tol=0.5 * 10 ** (1 - digits) + 1e-12)


@given(st.integers(min_value=0, max_value=10**15))
def test_thousands_separators_round_trip(value):
    assert parse_quantity(f"{value:,}") == float(value)
