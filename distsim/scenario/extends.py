"""``extends: base.yaml``: a scenario written as a few overrides of another file.

A family of scenarios shares one base; each member names it and changes what
differs. The rules, kept few so that the result is predictable:

* the path is relative to the extending file (a file may extend a file that
  extends another; a cycle is an error naming the chain);
* mappings merge key by key, recursively; anything else (a list, a number, a
  mapping replacing a list) replaces the base's value whole;
* a mapping whose ``kind`` differs from the base's (a strategy) replaces it whole,
  since its other keys are parameters of a different kind;
* ``key: null`` in the extending file removes the base's key.

Every value keeps its location, in the file that wrote it: an error about a value
inherited from the base names the base file and its line.
"""

from __future__ import annotations

import os
from pathlib import Path

from distsim.errors import ScenarioError
from distsim.scenario.problems import describe
from distsim.scenario.source import Locations, load_yaml, read_source

EXTENDS = "extends"
MAX_CHAIN = 32


def resolve_extends(data: dict, where: Locations, chain: tuple[tuple[Path, str], ...] = ()) -> tuple[dict, Locations]:
    """``data`` merged over the file it extends (and that file over its own base), with merged locations.

    ``chain`` holds (resolved path, path as shown) of the files already on the way, to name a cycle.
    """
    if EXTENDS not in data:
        return data, where
    data = dict(data)
    ref = data.pop(EXTENDS)
    at = (EXTENDS,)
    if not isinstance(ref, str) or not ref.strip():
        raise ScenarioError([where.problem(at, f"expected the path of a base scenario file, found {describe(ref)}")])
    if "\0" in ref:
        raise ScenarioError([where.problem(at, "expected the path of a base scenario file, found text with a NUL character")])
    shown = _display_path(where.file, ref.strip())
    try:
        resolved = Path(shown).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop (Python < 3.13)
        reason = "a loop of symbolic links" if "loop" in str(exc).lower() else getattr(exc, "strerror", None) or str(exc)
        raise ScenarioError([where.problem(at, f"cannot read base scenario {shown!r}: {reason}")]) from None
    resolved_chain = [path for path, _ in chain]
    if resolved in resolved_chain:
        names = " -> ".join([shown_name for _, shown_name in chain[resolved_chain.index(resolved):]] + [shown])
        raise ScenarioError([where.problem(at, f"extends cycle: {names}")])
    if len(chain) >= MAX_CHAIN:
        raise ScenarioError([where.problem(at, f"more than {MAX_CHAIN} files extend one another")])
    try:
        raw = read_source(shown)
    except OSError as exc:
        raise ScenarioError([where.problem(at, f"cannot read base scenario {shown!r}: {exc.strerror or exc}")]) from None
    base, base_where = load_yaml(raw, shown)
    if base is None:
        base = {}
    if not isinstance(base, dict):  # the path only: never echo a file that is not a scenario (extends: /etc/passwd)
        raise ScenarioError([where.problem(at, f"{shown!r} is not a scenario: it holds {_what(base)}, not a mapping of keys")])
    base, base_where = resolve_extends(base, base_where, chain + ((resolved, shown),))
    return merge(base, base_where, data, where)


def _what(value: object) -> str:
    """What a file holds, by kind only (its content is not shown)."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a yes/no value"
    return "a number" if isinstance(value, (int, float)) else "text"


def merge(base: dict, base_where: Locations, over: dict, over_where: Locations) -> tuple[dict, Locations]:
    """``over`` merged onto ``base`` by the rules above; each location taken from the file that wrote it."""
    replaced: set[tuple] = set()
    data = _merge(base, over, (), replaced)
    where = Locations(over_where.file)
    _copy(over_where, where, keep=lambda path: True)
    _copy(base_where, where, keep=lambda path: path not in over_where.points and not _under(path, replaced))
    return data, where


def _merge(base: object, over: object, path: tuple, replaced: set[tuple]) -> object:
    if not (isinstance(base, dict) and isinstance(over, dict)) or _kind_changes(base, over):
        replaced.add(path)
        return over
    result = dict(base)
    for key, value in over.items():
        if value is None and key in base:
            del result[key]
            replaced.add(path + (key,))
        elif key in base:
            result[key] = _merge(base[key], value, path + (key,), replaced)
        else:
            result[key] = value
    return result


def _kind_changes(base: dict, over: dict) -> bool:
    return "kind" in base and "kind" in over and base["kind"] != over["kind"]


def _under(path: tuple, roots: set[tuple]) -> bool:
    """Whether ``path`` is one of ``roots`` or lies below one (the empty root does not count)."""
    return any(path[:i] in roots for i in range(1, len(path) + 1))


def _copy(source: Locations, target: Locations, keep) -> None:
    for table in ("points", "keys"):
        for path, position in getattr(source, table).items():
            if keep(path):
                getattr(target, table)[path] = position
                origin = source.origins.get(path, source.file)
                if origin != target.file:
                    target.origins[path] = origin
                else:
                    target.origins.pop(path, None)


def _display_path(extending: str, ref: str) -> str:
    """The base's path as a user would type it from here: relative to the extending file's folder."""
    folder = os.path.dirname(extending) if not extending.startswith("<") else ""
    return os.path.normpath(os.path.join(folder, os.path.expanduser(ref)))

