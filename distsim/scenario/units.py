"""Physical quantities written the way people write them: ``100 Gbit/s``, ``5 us``, ``80 GiB``.

One function, :func:`parse_quantity`, turns a YAML value into a float in base units
(seconds, bytes, bytes per second, FLOP per second, or a plain count). Plain numbers
are taken as already in base units. The accepted spellings are listed by
:func:`accepted_units` and in ``docs/scenario-reference.md``.

Why hand-written rather than a units library (pint): the grammar is small and fixed,
and we want error messages that name the accepted spellings of this one quantity.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

# Factors are exact decimals so that '5 us' is the double nearest 5e-6, not 5 * 1e-6.
D = Decimal
SI_UP = {"": D(1), "k": D("1e3"), "M": D("1e6"), "G": D("1e9"), "T": D("1e12"), "P": D("1e15"), "E": D("1e18")}
BINARY = {"Ki": D(2**10), "Mi": D(2**20), "Gi": D(2**30), "Ti": D(2**40), "Pi": D(2**50)}
TIME_UNITS = {
    "s": D(1), "ms": D("1e-3"), "us": D("1e-6"), "µs": D("1e-6"), "μs": D("1e-6"),
    "ns": D("1e-9"), "ps": D("1e-12"), "sec": D(1), "min": D(60), "h": D(3600),
}
BIT = D("0.125")


def _prefixed(bases: dict[str, Decimal], prefixes: dict[str, Decimal]) -> dict[str, Decimal]:
    return {p + b: pf * bf for p, pf in prefixes.items() for b, bf in bases.items()}


_BYTE_PREFIXES = {**SI_UP, **BINARY}
UNITS: dict[str, dict[str, Decimal]] = {
    "time": TIME_UNITS,
    "bytes": _prefixed({"B": D(1), "bit": BIT}, _BYTE_PREFIXES),
    "bandwidth": _prefixed(
        {"B/s": D(1), "Bps": D(1), "bit/s": BIT, "b/s": BIT, "bps": BIT},
        _BYTE_PREFIXES,
    ),
    "flops": _prefixed({"FLOPS": D(1), "FLOP/s": D(1), "flop/s": D(1), "flops": D(1)}, SI_UP),
    "count": {"": D(1), "k": D("1e3"), "M": D("1e6"), "G": D("1e9"), "T": D("1e12")},
}
EXAMPLES = {
    "time": "'5 us', '10 ns', '1.5 ms' or seconds as a number",
    "bytes": "'80 GiB', '4 MiB', '512 MB' or bytes as a number",
    "bandwidth": "'100 Gbit/s', '12.5 GB/s' or bytes per second as a number",
    "flops": "'312 TFLOPS', '19.5 TFLOP/s' or FLOP/s as a number",
    "count": "a number such as 1e9, 1000000 or 7G",
}

NAMES = {"time": "a time", "bytes": "a size", "bandwidth": "a bandwidth", "flops": "a FLOP rate", "count": "a count"}

_NUMBER = r"[+-]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([^\s\d].*?)?\s*$")


def accepted_units(kind: str) -> list[str]:
    """Every unit spelling accepted for a quantity of this kind."""
    return sorted(u for u in UNITS[kind] if u)


def parse_quantity(value: object, kind: str) -> float:
    """Return ``value`` in base units of ``kind``; raise ValueError saying what is accepted.

    ``kind`` is one of ``time``, ``bytes``, ``bandwidth``, ``flops``, ``count``.
    """
    table = UNITS[kind]
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected {EXAMPLES[kind]}, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite quantity")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected {EXAMPLES[kind]}, got {type(value).__name__}")
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"cannot read {value!r} as a quantity; expected {EXAMPLES[kind]}")
    unit = match.group(2) or ""
    if unit not in table:
        raise ValueError(_unknown_unit_message(unit, kind, value))
    try:
        result = float(Decimal(match.group(1).replace("_", "")) * table[unit])
    except (InvalidOperation, OverflowError):
        result = math.inf
    if not math.isfinite(result):
        raise ValueError(f"{value!r} is not a finite quantity")
    return result


def _unknown_unit_message(unit: str, kind: str, value: object) -> str:
    if kind in ("bytes", "bandwidth") and unit.startswith("K"):
        return f"unit {unit!r} in {value!r} is ambiguous: write 'k{unit[1:]}' (1000) or 'Ki{unit[1:]}' (1024)"
    if unit in UNITS["time"] and kind != "time":
        return f"{value!r} is a time, but {NAMES[kind]} is expected here ({EXAMPLES[kind]})"
    return f"unknown unit {unit!r} in {value!r}; expected {EXAMPLES[kind]}"


def parse_count(value: object) -> int:
    """A whole number of things (parameters, layers): ``1e9`` and ``7G`` are fine, ``1.5`` is not."""
    number = parse_quantity(value, "count")
    if number != int(number):
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(number)
