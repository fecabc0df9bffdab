"""JSON that every parser reads: no NaN or Infinity, and floats at the precision the model has.

Why round: times are sums of op and message times, so a makespan the closed form
gives as 5e-07 may be simulated as 5.000000000000004e-07. The model's inputs
carry far fewer than 17 significant digits, so ``--json`` prints every float to
12 significant digits (``DIGITS``); the exact doubles stay in the Python API, the
trace CSVs and golden files. Why refuse NaN and Infinity: Python's json writes
them by default, and no other JSON parser reads them; the loader refuses the
inputs that would cause them (distsim.estimate), and a result that still is not
finite is reported as an error rather than printed.
"""

from __future__ import annotations

import json
import math

from distsim.errors import SimulationError

DIGITS = 12


def dumps(value: object, indent: int | None = 2, digits: int | None = DIGITS) -> str:
    """``value`` as strict JSON, floats rounded to ``digits`` significant digits (None: exact)."""
    return json.dumps(_clean(value, digits, ()), indent=indent, allow_nan=False)


def _clean(value: object, digits: int | None, path: tuple) -> object:
    if isinstance(value, float):
        if not math.isfinite(value):
            where = ".".join(map(str, path)) or "the result"
            raise SimulationError(f"{where} is {value} and cannot be written as JSON; the inputs give no finite answer")
        return value if digits is None else float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {key: _clean(item, digits, path + (key,)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item, digits, path + (index,)) for index, item in enumerate(value)]
    return value
