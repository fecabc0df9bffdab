"""YAML file -> validated :class:`Scenario`, or a ScenarioError listing every located problem."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from distsim.errors import Problem, ScenarioError
from distsim.scenario.model import Scenario, StrategySpec
from distsim.scenario.problems import problems_from_validation
from distsim.scenario.source import Locations, load_yaml

TOP_LEVEL_KEYS = ("cluster", "model", "strategy", "run", "sweep")


def load_scenario(path: str | Path) -> tuple[Scenario, Locations]:
    """Read and validate a scenario file. Raises ScenarioError (exit code 2) when it is not usable."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError([Problem(str(path), (), f"cannot read file: {exc.strerror or exc}")]) from None
    return parse_scenario(raw, str(path))


def parse_scenario(text: str | bytes, file: str = "<string>") -> tuple[Scenario, Locations]:
    data, where = load_yaml(text, file)
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ScenarioError([where.problem((), f"a scenario is a mapping with keys {', '.join(TOP_LEVEL_KEYS)}; found {found}")])
    problems: list[Problem] = []
    strategies = _strategy_specs(data.get("strategy"), where, problems)
    body = {k: v for k, v in data.items() if k != "strategy"}
    body["strategy"] = strategies
    try:
        scenario = Scenario.model_validate(body)
    except ValidationError as exc:
        problems += [p for p in problems_from_validation(exc, where, Scenario) if p.path[:1] != ("strategy",)]
        scenario = None
    if problems:
        raise ScenarioError(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return scenario, where


def _strategy_specs(raw: object, where: Locations, problems: list[Problem]) -> list[StrategySpec]:
    """``strategy`` is one mapping or a list of them (to compare strategies on one cluster)."""
    if raw is None:
        problems.append(where.problem(("strategy",), "missing required key 'strategy'", at_key=True))
        return []
    items = [(("strategy",), raw)] if isinstance(raw, dict) else [(("strategy", i), r) for i, r in enumerate(raw)] if isinstance(raw, list) else None
    if not items:
        problems.append(where.problem(("strategy",), "expected a mapping such as {kind: ring_allreduce} or a list of them"))
        return []
    specs = []
    for origin, item in items:
        if not isinstance(item, dict):
            problems.append(where.problem(origin, "expected a mapping such as {kind: ring_allreduce}"))
        elif not isinstance(item.get("kind"), str):
            problems.append(where.problem(origin + ("kind",), "missing or non-text 'kind' (the strategy's name)", at_key=True))
        else:
            params = {k: v for k, v in item.items() if k != "kind"}
            specs.append(StrategySpec(kind=item["kind"], params=params, origin=origin))
    return specs

