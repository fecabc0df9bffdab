"""Units: exact values, every accepted spelling, clear errors, and exact round trips.

The expected factors below are written out independently of distsim's own tables
(SI prefixes are powers of 1000, binary ones powers of 1024, a bit is 1/8 byte),
so a wrong entry in the tables fails here.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distsim.scenario.units import (
    MAX_COUNT,
    UNITS,
    accepted_units,
    format_quantity,
    parse_count,
    parse_quantity,
    quantity_pattern,
)

SI = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
BIN = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
BIT = Fraction(1, 8)


def independent_factors() -> dict[str, dict[str, Fraction]]:
    """Every spelling each kind must accept, with its factor, derived by hand."""
    byte_prefixes = {**SI, **BIN}
    time = {"": 1, "s": 1, "sec": 1, "ms": Fraction(1, 10**3), "us": Fraction(1, 10**6), "µs": Fraction(1, 10**6),
            "μs": Fraction(1, 10**6), "ns": Fraction(1, 10**9), "ps": Fraction(1, 10**12), "min": 60, "h": 3600}
    size = {"": 1} | {p + "B": f for p, f in byte_prefixes.items()} | {p + "bit": f * BIT for p, f in byte_prefixes.items()}
    rate = {"": 1}
    for p, f in byte_prefixes.items():
        rate |= {p + "B/s": f, p + "Bps": f, p + "bit/s": f * BIT, p + "b/s": f * BIT, p + "bps": f * BIT}
    flops = {"": 1} | {p + b: f for p, f in SI.items() for b in ("FLOPS", "FLOP/s", "flop/s", "flops")}
    count = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    return {"time": time, "bytes": size, "bandwidth": rate, "flops": flops, "count": count}


FACTORS = independent_factors()
SPELLINGS = [(kind, unit) for kind, table in FACTORS.items() for unit in table]


def nearest_double(value: Fraction) -> float:
    """The double nearest an exact rational (Fraction -> float rounds correctly)."""
    return float(Fraction(value))


@pytest.mark.parametrize(
    "text, kind, exact",
    [
        ("5 us", "time", Fraction(5, 10**6)),
        ("10 ns", "time", Fraction(10, 10**9)),
        ("1.5 ms", "time", Fraction(15, 10**4)),
        ("0.1 s", "time", Fraction(1, 10)),
        ("2 min", "time", 120),
        ("100 Gbit/s", "bandwidth", 125 * 10**8),
        ("12.5 GB/s", "bandwidth", 125 * 10**8),
        ("400 Gbps", "bandwidth", 5 * 10**10),
        ("80 GiB", "bytes", 80 * 2**30),
        ("4 MiB", "bytes", 4 * 2**20),
        ("512 MB", "bytes", 512 * 10**6),
        ("1 kbit", "bytes", 125),
        ("312 TFLOPS", "flops", 312 * 10**12),
        ("19.5 TFLOP/s", "flops", Fraction(195, 10) * 10**12),
        ("7G", "count", 7 * 10**9),
        ("1e9", "count", 10**9),
        ("5e-6", "time", Fraction(5, 10**6)),  # YAML 1.1 reads 5e-6 as text: still seconds
        ("1_000 B", "bytes", 1000),
        ("  3   KiB ", "bytes", 3 * 1024),
        ("+.5 s", "time", Fraction(1, 2)),
        ("-2 s", "time", -2),
        ("0.3 us", "time", Fraction(3, 10**7)),
    ],
)
def test_exact_values(text, kind, exact):
    assert parse_quantity(text, kind) == nearest_double(exact)


def test_five_microseconds_is_the_double_nearest_not_a_product():
    assert parse_quantity("5 us", "time") == 5e-6  # 5 * 1e-6 would be 5.000000000000001e-06
    assert parse_quantity("0.3 us", "time") == 3e-7


@pytest.mark.parametrize("kind, unit", SPELLINGS, ids=[f"{k}:{u or 'none'}" for k, u in SPELLINGS])
def test_every_accepted_spelling(kind, unit):
    expected = nearest_double(Fraction(3, 2) * FACTORS[kind][unit])
    assert parse_quantity(f"1.5 {unit}", kind) == expected
    assert parse_quantity(f"1.5{unit}", kind) == expected


def test_the_tables_hold_exactly_the_documented_spellings():
    for kind, table in FACTORS.items():
        assert set(UNITS[kind]) == set(table), kind
        assert set(accepted_units(kind)) == set(table) - {""}


def test_plain_numbers_are_base_units():
    assert parse_quantity(3, "time") == 3.0 and parse_quantity(2.5e9, "bandwidth") == 2.5e9
    assert parse_count(12) == 12 and parse_count("7G") == 7_000_000_000 and parse_count(1e9) == 10**9


@pytest.mark.parametrize(
    "value, kind, words",
    [
        ("5 parsecs", "time", "unknown unit 'parsecs'"),
        ("5 US", "time", "did you mean 'us'?"),
        ("1 GiBB", "bytes", "did you mean 'GiB'?"),
        ("3 KB", "bytes", "ambiguous: write 'kB' (1000) or 'KiB' (1024)"),
        ("5 us", "bytes", "expected a size"),
        ("10 GB", "bandwidth", "found a size"),
        ("7B", "count", "for billions write G or e9"),
        ("fast", "bandwidth", "found 'fast'"),
        ("", "time", "found ''"),
        ("1e999 s", "time", "too large"),
        (math.inf, "time", "finite"),
        (math.nan, "bytes", "finite"),
        (True, "time", "found true"),
        (None, "time", "found nothing (null)"),
        ([1], "time", "found a list"),
        ({"a": 1}, "bytes", "found a mapping"),
    ],
)
def test_errors_say_what_was_expected_and_found(value, kind, words):
    with pytest.raises(ValueError) as caught:
        parse_quantity(value, kind)
    assert words in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("value, words", [(1.5, "whole number"), ("2.0005k", "whole number"), (2.0**60, "at most 2^53")])
def test_count_errors(value, words):
    with pytest.raises(ValueError, match=words.replace("^", r"\^")):
        parse_count(value)


def test_count_limit_is_inclusive():
    assert parse_count(MAX_COUNT) == 2**53


finite = st.floats(allow_nan=False, allow_infinity=False)
any_unit = st.sampled_from(SPELLINGS)


@given(finite, any_unit)
def test_format_then_parse_is_the_identity(value, kind_unit):
    kind, unit = kind_unit
    assert parse_quantity(format_quantity(value, kind, unit), kind) == value


@given(finite, st.sampled_from(sorted(UNITS)))
def test_automatic_unit_round_trips_and_is_no_longer_than_base(value, kind):
    text = format_quantity(value, kind)
    assert parse_quantity(text, kind) == value
    assert len(text) <= len(format_quantity(value, kind, {"time": "s", "bytes": "B", "bandwidth": "B/s",
                                                         "flops": "FLOP/s", "count": ""}[kind]))


@given(st.integers(-10**6, 10**6), st.integers(-30, 30), any_unit)
def test_decimal_text_times_factor_is_correctly_rounded(mantissa, exponent, kind_unit):
    kind, unit = kind_unit
    text = f"{mantissa}e{exponent} {unit}"
    assert parse_quantity(text, kind) == nearest_double(Fraction(Decimal(f"{mantissa}e{exponent}")) * FACTORS[kind][unit])


@given(finite)
def test_repr_of_a_float_reads_back_in_every_kind(value):
    for kind in UNITS:
        assert parse_quantity(repr(value), kind) == value


@pytest.mark.parametrize("value", [1.5e308, -1.7976931348623157e308, 5e-324, -0.0])
def test_extreme_doubles_round_trip(value):
    for kind in UNITS:
        for unit in [None, *accepted_units(kind)]:
            text = format_quantity(value, kind, unit)
            assert parse_quantity(text, kind) == value and math.copysign(1, parse_quantity(text, kind)) == math.copysign(1, value)


def test_friendly_formats():
    assert format_quantity(80 * 2**30, "bytes") == "80 GiB"
    assert format_quantity(5e-6, "time") == "5 us"
    assert format_quantity(12.5e9, "bandwidth") == "12.5 GB/s"
    assert format_quantity(12.5e9, "bandwidth", "Gbit/s") == "100 Gbit/s"
    assert format_quantity(0.1, "time", "h") == "2.777777777777778e-5 h"  # 16 digits suffice here
    assert format_quantity(312e12, "flops") == "312 TFLOPS"
    assert format_quantity(0.0, "time") == "0 s"


@pytest.mark.parametrize("kind", sorted(UNITS))
def test_schema_pattern_agrees_with_the_parser(kind):
    import re

    pattern = re.compile(quantity_pattern(kind))
    for unit in FACTORS[kind]:
        assert pattern.match(f"1.5 {unit}") and pattern.match(f"2e3{unit}")
    for bad in ("fast", "1.5 parsecs", "1.5 s s"):
        assert not pattern.match(bad)
        with pytest.raises(ValueError):
            parse_quantity(bad, kind)
