"""Turn pydantic validation errors into located, human problems.

Each pydantic error becomes a :class:`~distsim.errors.Problem` with the file, the
line and column of the offending value (of the key, for an unknown or missing
key), the dotted field path as written, and a message that says what was expected
and what was found: ``expected a whole number, found 'eight'``. Unknown keys and
near-miss choices get "did you mean". Errors that pydantic reports once per member
of a union (``'dedicated' | int``) become one problem listing the alternatives.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable

from pydantic import BaseModel, ValidationError

from distsim.errors import Problem
from distsim.scenario.source import Locations

# What each pydantic error type expected, in the user's words; ``{name}`` fields come
# from the error's context. Types not listed fall back to pydantic's own sentence.
MAPPING = "a mapping (key: value lines, or {{key: value}})"
LIST = "a list ([a, b], or lines starting with '- ')"
EXPECTED = {
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "int_parsing_size": "a whole number of a usable size",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "decimal_type": "a number", "decimal_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "text", "string_unicode": "text", "string_sub_type": "text",
    "none_required": "null (nothing)",
    "dict_type": MAPPING, "model_type": MAPPING, "model_attributes_type": MAPPING, "mapping_type": MAPPING,
    "dataclass_type": MAPPING, "dataclass_exact_type": MAPPING, "frozen_dict_type": MAPPING,
    "ordered_dict_type": MAPPING, "counter_type": MAPPING,
    "list_type": LIST, "tuple_type": LIST, "set_type": LIST, "frozen_set_type": LIST, "deque_type": LIST,
    "iterable_type": LIST, "named_tuple_type": LIST,
    "greater_than": "a value greater than {gt}", "greater_than_equal": "a value greater than or equal to {ge}",
    "less_than": "a value less than {lt}", "less_than_equal": "a value less than or equal to {le}",
    "multiple_of": "a multiple of {multiple_of}",
    "too_short": "at least {min_length} item(s)", "too_long": "at most {max_length} item(s)",
    "string_too_short": "text of at least {min_length} character(s)",
    "string_too_long": "text of at most {max_length} character(s)",
    "string_pattern_mismatch": "text matching the pattern {pattern}",
    "literal_error": "{expected}", "enum": "{expected}",
}
# Errors whose own sentence (ours) already says what was expected and found.
OWN_MESSAGE = {"value_error": "Value error, ", "assertion_error": "Assertion failed, "}
AT_KEY = ("missing", "extra_forbidden", "bad_key")  # located at the key, not at a value


def suggest(word: object, choices: Iterable) -> str:
    """`` (did you mean 'x'?)`` when ``word`` is close to one of ``choices``, else ``''``."""
    names = [str(c) for c in choices]
    same_letters = [name for name in names if name.lower() == str(word).lower()]
    close = same_letters or difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def sort_problems(problems: Iterable[Problem], main: str | None = None) -> list[Problem]:
    """Problems in reading order: ``main`` file first, then by file, line and column; duplicates dropped."""
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.file != main, p.file, p.line or 0, p.column or 0, p.dotted_path))


def describe(value: object) -> str:
    """What was found, briefly: ``'eight'``, ``-1``, ``a list``, ``a mapping``, ``nothing (null)``."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and abs(value) > 10**30:
        return f"a {len(str(abs(value)))}-digit number"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, (list, tuple)):
        return "a list" if value else "an empty list"
    return f"a {type(value).__name__}"


def problems_from_validation(
    exc: ValidationError, where: Locations, model: type[BaseModel], prefix: tuple = ()
) -> list[Problem]:
    """One Problem per pydantic error (one per union), paths prefixed with ``prefix``."""
    entries: list[dict] = []
    unions: dict[tuple, dict] = {}  # path -> entry of an error pydantic reports once per union member
    for error in exc.errors(include_url=False):
        loc, in_union = _written_path(tuple(error["loc"]), where, prefix, error["type"])
        kind, expected, message = _explain(error, model, loc)
        path = prefix + loc
        if in_union and expected and path in unions:
            unions[path]["expected"].append(expected)
            continue
        entry = {"path": path, "kind": kind, "expected": [expected] if expected else [], "found": error.get("input"),
                 "message": message}
        entries.append(entry)
        if in_union and expected:
            unions[path] = entry
    return [where.problem(e["path"], _message(e), at_key=e["kind"] in AT_KEY) for e in entries]


def _message(entry: dict) -> str:
    if not entry["expected"]:
        return entry["message"]
    alternatives = " or ".join(dict.fromkeys(entry["expected"]))
    return f"expected {alternatives}, found {describe(entry['found'])}" + _choice_hint(
        entry["kind"], entry["expected"], entry["found"])


def _written_path(loc: tuple, where: Locations, prefix: tuple, kind: str) -> tuple[tuple, bool]:
    """``loc`` without pydantic's union-member tags (``"literal['dedicated']"``, ``'int'``), which are not keys.

    A part is a key the user wrote when the located data has it; the last part of
    a ``missing`` error is the key the user did not write.
    """
    if not where.points:
        return loc, False
    written: tuple = ()
    dropped = False
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if part == "[key]":
            continue
        if prefix + written + (part,) in where.points or (last and kind == "missing"):
            written += (part,)
        else:
            dropped = True
    return written, dropped


def _explain(error: dict, model: type[BaseModel], loc: tuple) -> tuple[str, str | None, str]:
    """(kind, what was expected or None, full message when there is no 'expected' part)."""
    kind, ctx, found = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return kind, None, _missing_message(model, error["loc"])
    if kind == "extra_forbidden":
        allowed = _fields_at(model, error["loc"][:-1])
        hint = suggest(loc[-1], allowed) if loc else ""
        listing = f"; allowed here: {', '.join(allowed)}" if allowed and not hint else ""
        return kind, None, f"unknown key {describe(error['loc'][-1])}{hint}{listing}"
    if "[key]" in error["loc"]:
        return "bad_key", None, f"expected {EXPECTED.get(kind, 'another kind of value')} as the key, found {describe(found)}"
    if kind in OWN_MESSAGE:
        message = str(error["msg"]).removeprefix(OWN_MESSAGE[kind])
        if _is_scalar(found) and repr(found) not in message and describe(found) not in message:
            message += f" (found {describe(found)})"
        return kind, None, message
    if kind in EXPECTED:
        try:
            expected = EXPECTED[kind].format(**ctx)
            if kind in ("literal_error", "enum") and " or " in expected:
                expected = "one of " + expected
            return kind, expected, ""
        except (KeyError, IndexError, ValueError):
            pass
    return kind, _expected_from_pydantic(str(error["msg"])), ""


def _expected_from_pydantic(msg: str) -> str:
    """Pydantic's sentence as an 'expected' part: 'Input should be a valid URL' -> 'a valid URL'."""
    first = msg.split(", ")[0].split(". ")[0].rstrip(".")
    for lead in ("Input should be ", "Input should have ", "Value should have ", "Input must be "):
        if first.startswith(lead):
            return first.removeprefix(lead)
    keep_case = first[1:2].isupper()  # 'JSON ...', 'UUID ...'
    return f"valid input ({first if keep_case else first[:1].lower() + first[1:]})"


def _choice_hint(kind: str, expected: list[str], found: object) -> str:
    if kind != "literal_error" or not isinstance(found, str):
        return ""
    return suggest(found, re.findall(r"'([^']*)'", " ".join(expected)))


def _missing_message(model: type[BaseModel], loc: tuple) -> str:
    name = loc[-1]
    if isinstance(name, int):
        return f"missing item {name} (counting from 0): the list is too short"
    field = _field_at(model, loc)
    about = f": {field.description}" if field is not None and field.description else ""
    return f"missing required key {name!r}{about}"


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def _field_at(model: type[BaseModel], loc: tuple):
    """The FieldInfo at ``loc`` (None when the path does not lead to a model field)."""
    parent = _model_at(model, loc[:-1])
    return parent.model_fields.get(loc[-1]) if parent is not None and isinstance(loc[-1], str) else None


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (sub)model found by following ``loc`` from ``model``."""
    found = _model_at(model, loc)
    return list(found.model_fields) if found is not None else []


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    current: object = model
    for part in loc:
        if isinstance(part, int) or not _is_model(current):
            current = _element_model(current)
            if isinstance(part, int):
                continue
        if not _is_model(current):
            return None
        if part not in current.model_fields:
            continue  # a union-member tag ('Edge', "function-before[...]"): stay on this model
        current = _unwrap(current.model_fields[part].annotation)
    current = current if _is_model(current) else _element_model(current)
    return current if _is_model(current) else None


def _is_model(tp: object) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _unwrap(tp: object) -> object:
    """The model class inside Optional[...] / Annotated[...] / X | None, if there is one."""
    if _is_model(tp):
        return tp
    for arg in typing.get_args(tp):
        found = _unwrap(arg)
        if _is_model(found):
            return found
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return None
    return tp


def _element_model(tp: object) -> object:
    for arg in typing.get_args(tp) or ():
        found = _unwrap(arg)
        if _is_model(found):
            return found
    return tp
