"""Expand a scenario's ``sweep:`` block into points, each a complete scenario validated on its own.

A sweep block maps dotted field paths to lists of values::

    sweep:
      cluster.workers: [4, 8, 16]
      strategy.kind: [ring_allreduce, parameter_server, all_to_all]

The grid is the cartesian product of the lists, in the order written. Each
combination is applied to the base scenario (as the user wrote it, defaults left
out), once per strategy the base lists, so a point always runs exactly one
strategy. Every point is then validated exactly like a file of its own, and its
problems are reported at the sweep entry that caused them (or at the base
scenario's key when the combination is at fault), all points at once.

Why points travel as YAML text: a point must run the same way in this process,
in a process pool or on a Dask worker, and text is the one form that is trivially
portable and re-validated wherever it lands.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass

import yaml

from distsim import api
from distsim.errors import Problem, ScenarioError
from distsim.estimate import sweep_problem
from distsim.scenario import Locations, Scenario
from distsim.scenario.problems import suggest

MAX_POINTS = 100_000  # a grid larger than this is almost certainly a typo in a list
MAX_PROBLEMS = 40  # reported at once; the rest are counted
SECTIONS = ("cluster", "model", "strategy", "run")
NOT_SWEPT = ("sweep", "extends")  # top-level keys that a point never carries


@dataclass(frozen=True)
class Point:
    """One run of a sweep: the base scenario with ``overrides`` applied, one strategy."""

    index: int  # position in grid order (the CSV's row order)
    overrides: tuple[tuple[str, object], ...]  # (dotted path, value as written), in sweep order
    value_indexes: tuple[int, ...]  # where each value sits in its sweep list (to locate errors)
    strategy_index: int  # which of the base scenario's strategies this point runs
    kind: str  # that strategy's kind, after overrides
    text: str  # the point's whole scenario as YAML: everything an executor needs
    name: str  # how the point is named in messages: "FILE [cluster.workers=8, ...]"
    key: str  # stable identity: a hash of the validated scenario (see :func:`point_key`)

    @property
    def label(self) -> str:
        return ", ".join(f"{path}={_show(value)}" for path, value in self.overrides)


class _PathError(Exception):
    """A sweep path that cannot be applied to the base scenario."""


def expand(scenario: Scenario, where: Locations, force: bool = False) -> list[Point]:
    """Every point of ``scenario``'s sweep, validated; ScenarioError lists every problem, located.

    A grid, or a point, estimated too large to run is a problem too, unless ``force``.
    """
    block = scenario.sweep
    if not block:
        raise ScenarioError([where.problem((), "this scenario has no 'sweep:' block (e.g. sweep: {cluster.workers: [4, 8, 16]})")])
    base = base_document(scenario)
    entries = base.pop("strategy")
    problems = _check_block(block, scenario, {**base, "strategy": entries[0]}, where, force)
    if problems:
        raise ScenarioError(problems)
    paths = list(block)
    points, problems = [], []
    for combo in itertools.product(*(list(enumerate(block[p])) for p in paths)):
        indexes = tuple(i for i, _ in combo)
        overrides = tuple((path, value) for path, (_, value) in zip(paths, combo))
        for strategy_index, entry in enumerate(entries):
            point, found = _point(base, entry, overrides, indexes, strategy_index, len(entries), len(points), where, force)
            problems += found
            if point is not None:
                points.append(point)
    if problems:
        # A point stops at its first failing stage; try each value alone too, so that every
        # bad value is named (once) even when another problem hides it in every combination.
        for path, values in block.items():
            for index, value in enumerate(values):
                for strategy_index, entry in enumerate(entries):
                    problems += _point(base, entry, ((path, value),), (index,), strategy_index, len(entries), 0, where,
                                       force)[1]
        raise ScenarioError(_summarised(problems))
    return points


def base_document(scenario: Scenario) -> dict:
    """The scenario as plain data, as the user wrote it (defaults left out), strategies as a list."""
    exclude = {name for name in (*NOT_SWEPT, "strategy") if name in Scenario.model_fields}
    document = scenario.model_dump(mode="json", exclude_unset=True, exclude=exclude)
    document["strategy"] = [{"kind": spec.kind, **spec.params} for spec in scenario.strategy]
    return document


def point_key(scenario: Scenario) -> str:
    """A hash of everything that decides a point's result: its validated scenario, in base units.

    Two spellings of the same value ('100 Gbit/s' and 12.5e9) give the same key, and a
    change to the base scenario gives new keys, so a CSV is never reused for a
    scenario it does not describe.
    """
    exclude = {name for name in NOT_SWEPT if name in Scenario.model_fields}
    canonical = json.dumps(scenario.model_dump(mode="json", exclude=exclude), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _check_block(block: dict, scenario: Scenario, document: dict, where: Locations, force: bool) -> list[Problem]:
    """Problems of the sweep block itself: paths that name nothing sweepable, empty or repeated values."""
    problems = []
    size = 1
    for path, values in block.items():
        parts = path.split(".")
        if "" in parts:
            problems.append(where.problem(("sweep", path), f"{path!r} is not a dotted field path such as cluster.workers", at_key=True))
        elif parts[0] not in SECTIONS:
            hint = suggest(parts[0], SECTIONS)
            problems.append(where.problem(("sweep", path), f"cannot sweep {path!r}: {parts[0]!r} is not a scenario section{hint}; "
                                          f"sweepable sections: {', '.join(SECTIONS)}", at_key=True))
        elif parts == ["strategy", "kind"] and len(scenario.strategy) > 1:
            problems.append(where.problem(("sweep", path), f"strategy.kind is swept but the scenario lists {len(scenario.strategy)} "
                                          "strategies; give one strategy (the sweep supplies the kinds)", at_key=True))
        else:
            try:
                _apply(copy.deepcopy(document), parts, None, path)
            except _PathError as exc:
                problems.append(where.problem(("sweep", path), exc.args[0], at_key=True))
        if not values:
            problems.append(where.problem(("sweep", path), "needs at least one value", at_key=True))
        seen = []
        for index, value in enumerate(values):
            if value in seen:
                problems.append(where.problem(("sweep", path, index), f"value {_show(value)} is listed twice"))
            seen.append(value)
        size *= max(len(values), 1)
    points = size * max(len(scenario.strategy), 1)
    if points > MAX_POINTS:
        problems.append(where.problem(("sweep",), f"the grid has {points:,} points; at most {MAX_POINTS:,} are allowed", at_key=True))
    elif not force and sweep_problem(points, where):
        problems.append(sweep_problem(points, where))
    return problems


def _apply(document: dict, parts: list[str], value: object, path: str) -> None:
    """Set ``document[parts...] = value``, creating missing sections; _PathError if a part is a value."""
    node: object = document
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise _PathError(f"{'.'.join(parts[:depth]) or path} is a list of {len(node)}; "
                                 f"expected an index 0..{len(node) - 1}, got {part!r}", path)
            part = int(part)
        elif not isinstance(node, dict):
            raise _PathError(f"{'.'.join(parts[:depth])} is a value ({_show(node)}), not a section with keys", path)
        if last:
            node[part] = value
        else:
            if isinstance(node, dict) and node.get(part) is None:
                node[part] = {}
            node = node[part]


def _point(base, entry, overrides, indexes, strategy_index, strategies, index, where, force=False):
    """Build and validate one point like a file of its own: (Point or None, problems relocated)."""
    document = {**copy.deepcopy(base), "strategy": copy.deepcopy(entry)}
    try:
        for path, value in overrides:
            _apply(document, path.split("."), copy.deepcopy(value), path)
    except _PathError as exc:
        message, path = exc.args
        return None, [where.problem(("sweep", path), message, at_key=True)]
    label = ", ".join(f"{path}={_show(value)}" for path, value in overrides)
    name = f"{where.file} [{label}]"
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    try:
        scenario, _ = api.loads(text, name, force)
    except ScenarioError as exc:
        return None, [_relocate(p, overrides, indexes, strategy_index, strategies, label, where) for p in exc.problems]
    point = Point(index, overrides, indexes, strategy_index, scenario.strategy[0].kind, text, name, point_key(scenario))
    return point, []


def _relocate(problem: Problem, overrides, indexes, strategy_index: int, strategies: int, label: str, where: Locations) -> Problem:
    """Point a problem found in a generated point back at the user's file.

    A problem inside a swept field is the value's own: it is reported once, at the
    sweep value that set it (at the sweep key, for a path naming no field). Any
    other is reported at the base scenario's key, naming the point that exposed it.
    """
    for (path, value), value_index in zip(overrides, indexes):
        parts = tuple(path.split("."))
        if tuple(str(p) for p in problem.path[: len(parts)]) != parts:
            continue
        if problem.message.startswith("unknown key") and len(problem.path) == len(parts):
            return where.problem(("sweep", path), f"cannot sweep {path!r}: {problem.message}", at_key=True)
        return where.problem(("sweep", path, value_index), f"value {_show(value)}: {problem.message}")
    path = problem.path
    if path[:1] == ("strategy",) and strategies > 1:
        path = ("strategy", strategy_index) + tuple(path[1:])
    at_key = problem.message.startswith(("unknown key", "missing"))
    return where.problem(path, f"at sweep point {label}: {problem.message}", at_key=at_key)  # the file it was written in


def _summarised(problems: list[Problem]) -> list[Problem]:
    """Distinct problems in file order, at most MAX_PROBLEMS, then a count of the rest."""
    unique = sorted(set(problems), key=lambda p: (p.line or 0, p.column or 0, p.message))
    if len(unique) <= MAX_PROBLEMS:
        return unique
    rest = len(unique) - MAX_PROBLEMS
    return unique[:MAX_PROBLEMS] + [Problem(unique[0].file, ("sweep",), f"... and {rest} more problems like these")]


def _show(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)
