"""Golden count files: what a scenario's runs produced, kept to catch any later change.

A golden file stores, for each strategy a scenario runs, the outputs that must not
drift: every number (and every mapping of numbers, such as message sizes ->
counts) in the run's ``--json`` summary. Which keys exist is the family's
business (messages and bytes for a gradient exchange, fwd_ops and loadmem_ops for
rematerialization), so this module names none of them; it leaves out only what
legitimately varies between runs (wall-clock times) and the closed-form
``expected`` block (the reconciliation checks that on every run).

Integers (counts, bytes) must match exactly; floats (times) within a relative
tolerance. Keys added to the summary later are not compared until the golden file
is rewritten. The naming convention is ``DIR/golden/NAME.json`` beside
``DIR/NAME.yaml``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from distsim import strict_json
from distsim.errors import InputError
from distsim.fileio import check_input_file, write_text

FORMAT = "distsim-golden/1"
IDENTITY = ("strategy", "schedule", "family")  # which run this is (whichever the family's summary has)
LEFT_OUT = ("expected",)
DEFAULT_REL_TOL = 1e-9


def golden_path(scenario: str | Path) -> Path:
    """Where the golden file of ``scenario`` lives: ``golden/NAME.json`` beside it."""
    scenario = Path(scenario)
    return scenario.parent / "golden" / f"{scenario.stem}.json"


def golden_record(runs: list[dict], scenario_name: str) -> dict:
    """The golden file's content for these ``--json`` run summaries."""
    return {
        "format": FORMAT,
        "scenario": scenario_name,
        "note": "written by distsim --update-golden; integers must match exactly, floats within --rel-tol",
        "runs": [golden_values(run) for run in runs],
    }


def golden_values(run: dict) -> dict:
    """The identity and every guarded value of one run summary (see the module docstring)."""
    kept = {key: run[key] for key in IDENTITY if isinstance(run.get(key), str)}
    for key, value in run.items():
        if key in kept or key in LEFT_OUT or "wall" in key:
            continue
        if _is_number(value) or (isinstance(value, dict) and value and all(_is_number(v) for v in value.values())):
            kept[key] = value
    return kept


def write_golden(path: str | Path, record: dict) -> None:
    """Write atomically: an interrupted update never leaves half a golden file."""
    write_text(path, strict_json.dumps(record, digits=None) + "\n")  # exact floats, never NaN


def read_golden(path: str | Path) -> dict:
    """The golden file at ``path``; InputError (exit code 2) saying what is wrong with it."""
    path = check_input_file(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read golden file: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a golden file (invalid JSON: {exc})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("runs"), list) \
            or not all(isinstance(run, dict) for run in record["runs"]):
        raise InputError(f"{path}: not a golden file (expected a JSON object with \"format\": \"{FORMAT}\" and a "
                         "\"runs\" list; write one with --update-golden)")
    return record


def compare(golden: dict, runs: list[dict], rel_tol: float = DEFAULT_REL_TOL) -> list[str]:
    """One readable line per difference between a golden record and these run summaries; [] when they agree."""
    expected = golden["runs"]
    diff = []
    if len(expected) != len(runs):
        diff.append(f"runs: golden has {len(expected)}, this run has {len(runs)}")
    for index, (old, new) in enumerate(zip(expected, runs)):
        label = _label(old, index, len(expected))
        identity = {k: old[k] for k in IDENTITY if k in old}
        found = {k: new.get(k) for k in identity}
        if identity != found:
            diff.append(f"{label}: golden is {_name(identity)}, this run is {_name(found)}")
            continue
        for key, value in old.items():
            if key not in identity:
                diff += [f"{label}: {line}" for line in _compare_value(key, value, new.get(key, _ABSENT), rel_tol)]
    return diff


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT = _Absent()


def _compare_value(key: str, old: object, new: object, rel_tol: float) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for item in sorted(set(old) | set(new), key=_natural):
            lines += _compare_value(f"{key}[{item}]", old.get(item, _ABSENT), new.get(item, _ABSENT), rel_tol)
        return lines
    if _is_number(old) and _is_number(new):
        return [] if _same(old, new, rel_tol) else [f"{key}: golden {old!r}, now {new!r}{_how_far(old, new, rel_tol)}"]
    if old == new:
        return []
    return [f"{key}: golden {_show(old)}, now {_show(new)}"]


def _same(old: float, new: float, rel_tol: float) -> bool:
    if isinstance(old, int) and isinstance(new, int):
        return old == new  # counts and bytes are exact
    return math.isclose(old, new, rel_tol=rel_tol, abs_tol=0.0)


def _how_far(old: float, new: float, rel_tol: float) -> str:
    if isinstance(old, int) and isinstance(new, int):
        return f" ({new - old:+d})"
    scale = max(abs(old), abs(new))
    relative = abs(new - old) / scale if scale else 0.0
    return f" (relative difference {relative:.1e} > {rel_tol:g})"


def _show(value: object) -> str:
    return "absent" if value is _ABSENT else json.dumps(value) if not isinstance(value, float) else repr(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _natural(key: str) -> tuple:
    """Message sizes sort as numbers: '500' before '4000000'."""
    return (0, int(key), "") if str(key).lstrip("-").isdigit() else (1, 0, str(key))


def _label(run: dict, index: int, count: int) -> str:
    name = _name({k: run[k] for k in IDENTITY if k in run})
    return f"runs[{index}] {name}" if count > 1 else name


def _name(identity: dict) -> str:
    return next((str(v) for k, v in identity.items() if k != "family" and v), None) or str(identity.get("family", "run"))
