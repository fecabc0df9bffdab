"""YAML file -> validated :class:`Scenario`, or a ScenarioError listing every located problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from distsim.errors import Problem, ScenarioError
from distsim.scenario.model import Scenario, StrategySpec
from distsim.scenario.extends import EXTENDS, resolve_extends
from distsim.scenario.problems import describe, problems_from_validation, sort_problems, suggest
from distsim.scenario.source import Locations, load_yaml, read_source

TOP_LEVEL_KEYS = ("cluster", "model", "strategy", "run", "sweep", EXTENDS)

# Checks the strategies as written (kind, parameters) so that their problems are reported
# together with the rest; the API passes one, since this layer knows no strategy.
StrategyCheck = Callable[[list[StrategySpec], Locations], list[Problem]]


def load_scenario(path: str | Path, check: StrategyCheck | None = None) -> tuple[Scenario, Locations]:
    """Read and validate a scenario file. Raises ScenarioError (exit code 2) when it is not usable."""
    path = Path(path)
    try:
        raw = read_source(path)
    except OSError as exc:
        raise ScenarioError([Problem(str(path), (), f"cannot read file: {exc.strerror or exc}")]) from None
    return parse_scenario(raw, str(path), check)


def parse_scenario(
    text: str | bytes, file: str = "<string>", check: StrategyCheck | None = None
) -> tuple[Scenario, Locations]:
    data, where = load_yaml(text, file)
    if not isinstance(data, dict):
        found = "an empty file" if data is None else describe(data)
        raise ScenarioError([where.problem((), f"a scenario is a mapping with keys {', '.join(TOP_LEVEL_KEYS)}; found {found}")])
    if EXTENDS in data:
        data, where = resolve_extends(data, where, _chain(file))
    problems = _unknown_top_level_keys(data, where)
    data = {key: value for key, value in data.items() if key in TOP_LEVEL_KEYS}
    strategies = _strategy_specs(data.get("strategy"), where, problems)
    if check is not None:
        problems += check(strategies, where)
    body = {k: v for k, v in data.items() if k != "strategy"}
    body["strategy"] = strategies
    try:
        scenario = Scenario.model_validate(body)
    except ValidationError as exc:
        problems += [p for p in problems_from_validation(exc, where, Scenario) if p.path[:1] != ("strategy",)]
        scenario = None
    if problems:
        raise ScenarioError(sort_problems(problems, main=file))
    return scenario, where


def _unknown_top_level_keys(data: dict, where: Locations) -> list[Problem]:
    """Checked here rather than by the model, whose fields do not include ``extends`` (resolved before)."""
    problems = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            hint = suggest(key, TOP_LEVEL_KEYS)
            listing = "" if hint else f"; allowed here: {', '.join(TOP_LEVEL_KEYS)}"
            problems.append(where.problem((key,), f"unknown key {describe(key)}{hint}{listing}", at_key=True))
    return problems


def _chain(file: str) -> tuple[tuple[Path, str], ...]:
    """The file being loaded, as the first link of an ``extends`` chain (none for text without a file)."""
    return () if file.startswith("<") else ((Path(file).resolve(), file),)


def _strategy_specs(raw: object, where: Locations, problems: list[Problem]) -> list[StrategySpec]:
    """``strategy`` is one mapping or a list of them (to compare strategies on one cluster)."""
    if raw is None:
        problems.append(where.problem(("strategy",), "missing required key 'strategy'", at_key=True))
        return []
    items = [(("strategy",), raw)] if isinstance(raw, dict) else [(("strategy", i), r) for i, r in enumerate(raw)] if isinstance(raw, list) else None
    if not items:
        problems.append(where.problem(("strategy",), f"expected a mapping such as {{kind: ring_allreduce}} or a list of them, found {describe(raw)}"))
        return []
    specs = []
    for origin, item in items:
        if not isinstance(item, dict):
            problems.append(where.problem(origin, f"expected a mapping such as {{kind: ring_allreduce}}, found {describe(item)}"))
        elif "kind" not in item:
            problems.append(where.problem(origin + ("kind",), "missing required key 'kind' (the strategy's name)", at_key=True))
        elif not isinstance(item["kind"], str):
            problems.append(where.problem(origin + ("kind",), f"expected a strategy name, found {describe(item['kind'])}"))
        elif any(not isinstance(key, str) for key in item):
            problems += [where.problem(origin + (key,), f"expected a parameter name, found {key!r}", at_key=True)
                         for key in item if not isinstance(key, str)]
        else:
            params = {k: v for k, v in item.items() if k != "kind"}
            specs.append(StrategySpec(kind=item["kind"], params=params, origin=origin))
    return specs

