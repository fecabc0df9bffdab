"""Turn pydantic validation errors into located, human problems.

Each pydantic error becomes a :class:`~distsim.errors.Problem` with the file, the
line and column of the offending key or value, the dotted field path, and a
message that says what was expected and what was found, with "did you mean"
for near-miss keys and choices.
"""

from __future__ import annotations

import difflib
import re
import types
import typing

from pydantic import BaseModel, ValidationError

from distsim.errors import Problem
from distsim.scenario.source import Locations


def suggest(word: object, choices) -> str:
    """`` (did you mean 'x'?)`` when ``word`` is close to one of ``choices``, else ``''``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def problems_from_validation(
    exc: ValidationError, where: Locations, model: type[BaseModel], prefix: tuple = ()
) -> list[Problem]:
    """One Problem per pydantic error, paths prefixed with ``prefix``."""
    return [_problem(error, where, model, prefix) for error in exc.errors()]


def _problem(error: dict, where: Locations, model: type[BaseModel], prefix: tuple) -> Problem:
    loc = tuple(error["loc"])
    path = prefix + loc
    kind, found = error["type"], error.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        return where.problem(path, f"unknown key {loc[-1]!r}{suggest(loc[-1], allowed)}", at_key=True)
    if kind == "missing":
        return where.problem(path, f"missing required key {loc[-1]!r}", at_key=True)
    message = error["msg"].removeprefix("Value error, ")
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", error.get("ctx", {}).get("expected", ""))
        message += f" (got {found!r}){suggest(found, choices)}"
    elif kind != "value_error" and _is_scalar(found):
        message += f" (got {found!r})"
    return where.problem(path, message)


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (sub)model found by following ``loc`` from ``model``."""
    current: object = model
    for part in loc:
        if isinstance(part, int) or not _is_model(current):
            current = _element_model(current)
            if isinstance(part, int):
                continue
        if not _is_model(current) or part not in current.model_fields:
            return []
        current = _unwrap(current.model_fields[part].annotation)
    current = _element_model(current) if not _is_model(current) else current
    return list(current.model_fields) if _is_model(current) else []


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
