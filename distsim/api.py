"""The composition root: load a scenario, run its strategies, reconcile each with the closed forms.

This is the Python API for notebooks and scripts::

    import distsim
    outcomes = distsim.run("scenarios/ring_allreduce.yaml")
    outcomes[0].reconciliation.ok, outcomes[0].trace.messages["t_arrive"]

It is also all the CLI calls. Data flows one way: YAML -> Scenario -> World ->
strategy processes -> Trace -> Reconciliation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from distsim.analysis import Inputs, Reconciliation, reconcile
from distsim.errors import ScenarioError, SimulationError
from distsim.estimate import communication_estimate, describe, limit_problems, overflow_problems
from distsim.remat.estimate import estimate_rematerialization
from distsim.remat.run import analyze_rematerialization, fits_rematerialization, run_rematerialization
from distsim.runner import RunResult, placement_problems, run_communication
from distsim.scenario import Locations, Scenario, StrategySpec, load_scenario, parse_scenario
from distsim.scenario.problems import problems_from_validation, sort_problems, suggest
from distsim.strategies import UnknownStrategy, available, get


@dataclass
class Outcome:
    """One strategy's run on one scenario, and how it compares with the closed forms."""

    spec: StrategySpec
    result: RunResult
    reconciliation: Reconciliation

    @property
    def trace(self):
        return self.result.trace

    @property
    def family(self) -> str:
        return self.result.strategy.family

    @property
    def ok(self) -> bool:
        return self.reconciliation.ok


@dataclass(frozen=True)
class Family:
    """How to run and analyze one family of strategies (gradient exchange, rematerialization, ...)."""

    simulate: Callable  # (scenario, strategy, where, monitor=None) -> RunResult
    analyze: Callable  # (result: RunResult, scenario, strategy) -> Reconciliation
    fits: Callable  # (scenario, strategy class, spec, where) -> list[Problem]: what the family needs
    estimate: Callable  # (scenario, strategy) -> estimate.Estimate: the run's size, before it runs


def _fits_communication(scenario: Scenario, cls, spec: StrategySpec, where: Locations) -> list:
    problems = []
    if scenario.cluster.workers < cls.min_workers:
        problems.append(where.problem(("cluster", "workers"), f"{spec.kind} needs at least {cls.min_workers} workers, got {scenario.cluster.workers}"))
    if scenario.model.params is None:
        problems.append(where.problem(("model",), f"missing required key 'params' (the gradient size {spec.kind} exchanges)", at_key=True))
    if scenario.cluster.network is None:
        problems.append(where.problem(("cluster",), f"missing required key 'network' ({spec.kind} sends messages)", at_key=True))
    if not problems:
        problems += placement_problems(scenario, cls(cls.Params.model_validate(spec.params)), where)
    return problems


FAMILIES: dict[str, Family] = {
    "communication": Family(
        simulate=run_communication,
        analyze=lambda result, scenario, strategy: reconcile(result.trace, inputs_for(scenario, strategy)),
        fits=_fits_communication,
        estimate=lambda scenario, strategy: communication_estimate(scenario, strategy, inputs_for(scenario, strategy)),
    ),
    "rematerialization": Family(
        simulate=run_rematerialization,
        analyze=analyze_rematerialization,
        fits=fits_rematerialization,
        estimate=estimate_rematerialization,
    ),
}


def load(source: str | Path, force: bool = False) -> tuple[Scenario, Locations]:
    """Read a scenario file and check every strategy it names (ScenarioError lists every problem).

    A run estimated beyond the limits (distsim.estimate) is a problem too, unless ``force``.
    """
    scenario, where = load_scenario(source, check=check_strategies)
    build_strategies(scenario, where, force)
    return scenario, where


def loads(text: str, name: str = "<string>", force: bool = False) -> tuple[Scenario, Locations]:
    """Like :func:`load`, from YAML text."""
    scenario, where = parse_scenario(text, name, check=check_strategies)
    build_strategies(scenario, where, force)
    return scenario, where


def run(source: str | Path | Scenario, where: Locations | None = None, on_progress=None, monitor=None,
        force: bool = False) -> list[Outcome]:
    """Run every strategy of a scenario (a path, YAML already loaded, or a Scenario).

    ``on_progress(index, total, kind)`` is called before each strategy; ``monitor(world)``
    receives each simulated World before it runs (``World.progress()`` can be read from
    another thread while it does). ``force`` runs what the size limits would refuse.
    """
    if isinstance(source, (str, Path)):
        scenario, where = load(source, force)
    else:
        scenario, where = source, where or Locations("<scenario>")
    strategies = build_strategies(scenario, where, force)
    outcomes = []
    for index, (spec, strategy) in enumerate(zip(scenario.strategy, strategies)):
        if on_progress:
            on_progress(index, len(strategies), spec.kind)
        family = FAMILIES[strategy.family]
        try:
            result = family.simulate(scenario, strategy, where, monitor=monitor)
        except MemoryError:
            raise SimulationError(f"{spec.kind}: this machine ran out of memory while simulating it "
                                  f"(estimated: {describe(family.estimate(scenario, strategy))})") from None
        outcomes.append(Outcome(spec, result, family.analyze(result, scenario, strategy)))
    return outcomes


def build_strategies(scenario: Scenario, where: Locations, force: bool = False) -> list:
    """A strategy object per entry of ``strategy``, its parameters validated; located errors otherwise.

    Each is also sized (its family's ``estimate``): derived times that overflow are a
    problem, and so is a run beyond the limits unless ``force``.
    """
    problems, strategies = [], []
    for spec in scenario.strategy:
        strategy, found = _build_strategy(spec, where)
        problems += found
        if strategy is not None:
            family = FAMILIES[strategy.family]
            fits = family.fits(scenario, type(strategy), spec, where)
            problems += fits or _size_problems(family.estimate(scenario, strategy), where, spec.kind, force)
            strategies.append(strategy)
    if problems:
        raise ScenarioError(sort_problems(problems, main=where.file))
    return strategies


def _size_problems(estimate, where: Locations, kind: str, force: bool) -> list:
    return overflow_problems(estimate, where) or ([] if force else limit_problems(estimate, where, kind))


def check_strategies(specs: list[StrategySpec], where: Locations) -> list:
    """Problems of the strategies as written (unknown kind, bad parameters); the loader calls this so
    that they are reported together with the rest of the scenario's problems."""
    return [problem for spec in specs for problem in _build_strategy(spec, where)[1]]


def _build_strategy(spec: StrategySpec, where: Locations) -> tuple[object | None, list]:
    """(the strategy, []) or (None, its located problems)."""
    try:
        cls = get(spec.kind)
    except UnknownStrategy as exc:
        hint = suggest(spec.kind, exc.known)
        return None, [where.problem(spec.origin + ("kind",), f"unknown strategy {spec.kind!r}{hint}; known: {', '.join(exc.known)}")]
    try:
        strategy = cls(cls.Params.model_validate(spec.params))
    except ValidationError as exc:
        return None, problems_from_validation(exc, where, cls.Params, prefix=spec.origin)
    strategy.origin = spec.origin
    return strategy, []


def inputs_for(scenario: Scenario, strategy) -> Inputs:
    """What the closed forms may know: the scenario's numbers and the strategy's parameters."""
    net = scenario.cluster.network
    params = strategy.params
    return Inputs(
        kind=strategy.name,
        workers=scenario.cluster.workers,
        params=scenario.model.params,
        bytes_per_param=scenario.model.bytes_per_param,
        bandwidth=net.bandwidth,
        latency=net.latency,
        topology=net.topology,
        flops=scenario.cluster.gpu.flops,
        reduce_compute=getattr(params, "reduce_compute", False),
        server=getattr(params, "server", "dedicated"),
    )


def available_strategies() -> dict[str, type]:
    """Every registered strategy by name (built-ins and installed plugins)."""
    return available()
