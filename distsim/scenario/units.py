"""Physical quantities written the way people write them: ``100 Gbit/s``, ``5 us``, ``80 GiB``.

One function, :func:`parse_quantity`, turns a YAML value into a float in base units
(seconds, bytes, bytes per second, FLOP per second, or a plain count). Plain numbers,
and numbers written without a unit (``5e-6``, which YAML 1.1 reads as text), are
taken as already in base units. The accepted spellings are listed by
:func:`accepted_units` and in ``docs/scenario-reference.md``.

Arithmetic is exact: the number and the unit's factor are multiplied as decimals
with enough digits for the exact product, then rounded once to the nearest double.
So ``5 us`` is the double nearest 5e-6 (not ``5 * 1e-6``), and
:func:`format_quantity` writes any double in any unit so that it reads back
bit for bit.

Why hand-written rather than a units library (pint): the grammar is small and fixed,
and we want error messages that name the accepted spellings of this one quantity.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

# Factors are exact decimals so that '5 us' is the double nearest 5e-6, not 5 * 1e-6.
D = Decimal
SI_UP = {"": D(1), "k": D("1e3"), "M": D("1e6"), "G": D("1e9"), "T": D("1e12"), "P": D("1e15"), "E": D("1e18")}
BINARY = {"Ki": D(2**10), "Mi": D(2**20), "Gi": D(2**30), "Ti": D(2**40), "Pi": D(2**50)}
TIME_UNITS = {
    "": D(1), "s": D(1), "ms": D("1e-3"), "us": D("1e-6"), "µs": D("1e-6"), "μs": D("1e-6"),
    "ns": D("1e-9"), "ps": D("1e-12"), "sec": D(1), "min": D(60), "h": D(3600),
}
BIT = D("0.125")


def _prefixed(bases: dict[str, Decimal], prefixes: dict[str, Decimal]) -> dict[str, Decimal]:
    return {p + b: pf * bf for p, pf in prefixes.items() for b, bf in bases.items()}


_BYTE_PREFIXES = {**SI_UP, **BINARY}
UNITS: dict[str, dict[str, Decimal]] = {
    "time": TIME_UNITS,
    "bytes": {"": D(1), **_prefixed({"B": D(1), "bit": BIT}, _BYTE_PREFIXES)},
    "bandwidth": {
        "": D(1),
        **_prefixed({"B/s": D(1), "Bps": D(1), "bit/s": BIT, "b/s": BIT, "bps": BIT}, _BYTE_PREFIXES),
    },
    "flops": {"": D(1), **_prefixed({"FLOPS": D(1), "FLOP/s": D(1), "flop/s": D(1), "flops": D(1)}, SI_UP)},
    "count": {"": D(1), "k": D("1e3"), "M": D("1e6"), "G": D("1e9"), "T": D("1e12")},
}
BASE_UNIT = {"time": "s", "bytes": "B", "bandwidth": "B/s", "flops": "FLOP/s", "count": ""}
EXAMPLES = {
    "time": "'5 us', '10 ns', '1.5 ms' or seconds as a number",
    "bytes": "'80 GiB', '4 MiB', '512 MB' or bytes as a number",
    "bandwidth": "'100 Gbit/s', '12.5 GB/s' or bytes per second as a number",
    "flops": "'312 TFLOPS', '19.5 TFLOP/s' or FLOP/s as a number",
    "count": "a number such as 1e9, 1000000 or 7G",
}
NAMES = {"time": "a time", "bytes": "a size", "bandwidth": "a bandwidth", "flops": "a FLOP rate", "count": "a count"}
MAX_COUNT = 2**53  # beyond this a count is no longer exact as a double (and is no real model)

_NUMBER = r"[+-]?(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?"  # ASCII digits only
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([^\s0-9.+-].*?)?\s*$")


def accepted_units(kind: str) -> list[str]:
    """Every unit spelling accepted for a quantity of this kind (the empty unit, base units, is implied)."""
    return sorted((u for u in UNITS[kind] if u), key=lambda u: (UNITS[kind][u], u))


def quantity_pattern(kind: str) -> str:
    """A regular expression (ECMA 262, for JSON Schema) matching the text forms :func:`parse_quantity` reads."""
    units = sorted((u for u in UNITS[kind] if u), key=len, reverse=True)
    alternatives = "|".join(re.escape(u) for u in units)
    return rf"^\s*{_NUMBER}\s*(?:{alternatives})?\s*$"


def parse_quantity(value: object, kind: str) -> float:
    """Return ``value`` in base units of ``kind``; raise ValueError saying what is accepted and what was found.

    ``kind`` is one of ``time``, ``bytes``, ``bandwidth``, ``flops``, ``count``.
    """
    table = UNITS[kind]
    if isinstance(value, bool) or value is None or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected {NAMES[kind]}: {EXAMPLES[kind]}; found {_kind_of(value)}")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a finite quantity, found {value!r}")
        try:
            return float(value)
        except OverflowError:  # an integer beyond the largest double
            raise ValueError(f"expected a finite quantity, found a {len(str(abs(value)))}-digit number (too large)") from None
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"expected {NAMES[kind]}: {EXAMPLES[kind]}; found {value!r}")
    unit = match.group(2) or ""
    if unit not in table:
        raise ValueError(_unknown_unit_message(unit, kind, value))
    number = match.group(1).replace("_", "")
    result = _exact_product(number, table[unit])
    if not math.isfinite(result):
        raise ValueError(f"expected a finite quantity, found {value!r} (too large)")
    return _normal(result, value, _nonzero(number))


def _normal(result: float, value: object, nonzero: bool) -> float:
    """``result``, unless a value that is not zero came out as 0 (it underflowed).

    Why an error: '1e-400 s' would otherwise be silently 0. (A tiny value that is
    still a double, such as 5e-324, is kept; the derived times it causes are checked
    where they are computed.)
    """
    if nonzero and result == 0:
        raise ValueError(f"{value!r} is too small: it underflows to 0 as a double (the smallest is 5e-324); "
                         "write 0 if you mean zero")
    return result


def _nonzero(number: str) -> bool:
    mantissa = number.lower().split("e")[0]
    return any(c in "123456789" for c in mantissa)


def _exact_product(number: str, factor: Decimal) -> float:
    """``number * factor`` computed exactly, then rounded once to the nearest double."""
    try:
        with localcontext() as ctx:
            ctx.prec = len(number) + 40  # factors have at most 16 significant digits
            ctx.Emax, ctx.Emin = 10**9, -(10**9)
            return float(Decimal(number) * factor)
    except (InvalidOperation, OverflowError, ValueError):
        return math.inf


def _unknown_unit_message(unit: str, kind: str, value: object) -> str:
    if kind in ("bytes", "bandwidth") and unit.startswith("K"):
        return f"unit {unit!r} in {value!r} is ambiguous: write 'k{unit[1:]}' (1000) or 'Ki{unit[1:]}' (1024)"
    if kind == "count" and unit in ("B", "b", "bn"):
        return f"unknown unit {unit!r} in {value!r}: for billions write G or e9 (e.g. 7G or 7e9)"
    for other in ("time", "bytes", "bandwidth", "flops"):
        if other != kind and unit in UNITS[other]:
            return f"expected {NAMES[kind]} ({EXAMPLES[kind]}), found {NAMES[other]}: {value!r}"
    close = [u for u in UNITS[kind] if u and u.lower() == unit.lower()] or difflib.get_close_matches(
        unit, [u for u in UNITS[kind] if u], n=1, cutoff=0.6
    )
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown unit {unit!r} in {value!r}{hint}; expected {EXAMPLES[kind]}"


def parse_count(value: object) -> int:
    """A whole number of things (parameters, layers): ``1e9`` and ``7G`` are fine, ``1.5`` is not."""
    number = parse_quantity(value, "count")
    if number != int(number):
        raise ValueError(f"expected a whole number, found {value!r}")
    if abs(number) > MAX_COUNT:
        raise ValueError(f"expected a count of at most 2^53 ({MAX_COUNT:.2e}), found {value!r}")
    return int(number)


def format_quantity(value: float, kind: str, unit: str | None = None) -> str:
    """``value`` (base units) written in ``unit`` with the fewest digits that read back bit for bit.

    Without a unit, the spelling that gives the shortest text is chosen (``80 GiB``
    rather than ``85899345920 B``), preferring the base unit on ties.
    """
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite quantity")
    if unit is None:
        candidates = [BASE_UNIT[kind]] + [u for u in accepted_units(kind) if _is_canonical(u, kind)]
        return min((format_quantity(value, kind, u) for u in candidates), key=len)
    if value == 0:
        return _with_unit("-0" if math.copysign(1, value) < 0 else "0", unit)
    with localcontext() as ctx:
        ctx.prec = 1000  # exact for any double divided by a power of 10 or 2 (up to 2**50)
        exact = Decimal(value) / UNITS[kind][unit]
    for digits in range(1, 18):  # 17 significant digits always suffice (as for repr)
        with localcontext() as ctx:
            ctx.prec = digits
            text = _with_unit(_plain(+exact), unit)
        if _reads_back(text, kind, value):
            return text
    return _with_unit(_plain(exact), unit)


def _reads_back(text: str, kind: str, value: float) -> bool:
    try:
        return parse_quantity(text, kind) == value
    except ValueError:  # rounded up past the largest double
        return False


def _with_unit(number: str, unit: str) -> str:
    return f"{number} {unit}" if unit else number


def _plain(number: Decimal) -> str:
    """Shortest plain or scientific text of a decimal, without trailing zeros."""
    number = number.normalize()
    sign, digits, exponent = number.as_tuple()
    if 0 <= exponent <= 3 or (exponent < 0 and -exponent <= len(digits) + 3):
        text = format(number, "f")
    else:
        text = format(number, "e").replace("e+", "e")
    return text


def _is_canonical(unit: str, kind: str) -> bool:
    """Units offered when choosing one: one spelling per factor (GB/s, not also GBps)."""
    preferred = {"time": ("s", "ms", "us", "ns", "ps", "min", "h"),
                 "bytes": tuple(p + "B" for p in _BYTE_PREFIXES),
                 "bandwidth": tuple(p + "bit/s" for p in SI_UP) + tuple(p + "B/s" for p in _BYTE_PREFIXES),
                 "flops": tuple(p + "FLOPS" for p in SI_UP),
                 "count": tuple(UNITS["count"])}
    return unit in preferred[kind]


def _kind_of(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


@dataclass(frozen=True)
class Quantity:
    """Annotation for a pydantic field holding a quantity of ``kind``: ``Annotated[float, Quantity("time")]``.

    It validates with :func:`parse_quantity` (or :func:`parse_count` when ``whole``),
    and describes the field in JSON Schema as a number or a string with a unit, so
    that editors accept ``latency: 5 us`` and flag ``latency: 5 uss``.
    """

    kind: str
    whole: bool = False

    def __get_pydantic_core_schema__(self, source, handler):
        from pydantic_core import core_schema

        parse = parse_count if self.whole else (lambda value: parse_quantity(value, self.kind))
        return core_schema.no_info_before_validator_function(parse, handler(source))

    def __get_pydantic_json_schema__(self, schema, handler):
        number = dict(handler(schema))
        number = {_JSON_SCHEMA_BOUNDS.get(key, key): value for key, value in number.items()}
        text = {"type": "string", "pattern": quantity_pattern(self.kind)}
        return {"anyOf": [number, text], "x-unit": self.kind}


# pydantic leaves annotated-type bounds under their core-schema names here; JSON Schema names them so.
_JSON_SCHEMA_BOUNDS = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum"}
