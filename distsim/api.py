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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from distsim.analysis import Inputs, Reconciliation, reconcile
from distsim.analysis.collectives import CollectiveCall
from distsim.analysis.platform import Platform
from distsim.errors import OutOfMemoryError, ScenarioError, SimulationError, StrategyBug
from distsim.estimate import communication_estimate, describe, limit_problems, overflow_problems
from distsim.hardware.cluster import link_figures
from distsim.remat.estimate import estimate_rematerialization
from distsim.remat.run import analyze_rematerialization, fits_rematerialization, run_rematerialization
from distsim.runner import RunResult, layout, run_communication
from distsim.runner import nodes_and_tiers
from distsim.scenario import Locations, Scenario, StrategySpec, load_scenario, parse_scenario
from distsim.scenario.problems import problems_from_validation, sort_problems, suggest
from distsim.strategies import UnknownStrategy, available, get
from distsim.strategies.registry import BrokenPlugin, label
from distsim.trace import Trace


@dataclass
class Outcome:
    """One strategy's run on one scenario, and how it compares with the closed forms."""

    spec: StrategySpec
    result: RunResult
    reconciliation: Reconciliation
    # Set when the strategy did not fit in memory (``run(..., keep_going=True)``): the error, with the
    # rank, op and time; ``result.trace`` is what happened until then. Such an outcome is never ok.
    failure: OutOfMemoryError | None = None

    @property
    def trace(self):
        return self.result.trace

    @property
    def family(self) -> str:
        return self.result.strategy.family

    @property
    def ok(self) -> bool:
        return self.failure is None and self.reconciliation.ok


@dataclass(frozen=True)
class Family:
    """How to run and analyze one family of strategies (gradient exchange, rematerialization, ...)."""

    simulate: Callable  # (scenario, strategy, where, monitor=None) -> RunResult
    analyze: Callable  # (result: RunResult, scenario, strategy) -> Reconciliation
    fits: Callable  # (scenario, strategy, spec, where) -> list[Problem]: what the family needs
    estimate: Callable  # (scenario, strategy) -> estimate.Estimate: the run's size, before it runs (cheap)


def _fits_communication(scenario: Scenario, strategy, spec: StrategySpec, where: Locations) -> list:
    problems = []
    if scenario.cluster.workers < strategy.min_workers:
        problems.append(where.problem(("cluster", "workers"), f"{spec.kind} needs at least {strategy.min_workers} workers, got {scenario.cluster.workers}"))
    if scenario.model.params is None:
        problems.append(where.problem(("model",), f"missing required key 'params' (the gradient size {spec.kind} exchanges)", at_key=True))
    if scenario.cluster.network is None and scenario.cluster.nodes is None:
        problems.append(where.problem(("cluster",), f"missing required key 'network' ({spec.kind} sends messages)", at_key=True))
    if not problems:  # the ranks must have a place on the network: names in a graph, connected endpoints
        try:
            where_ranks = layout(scenario, strategy, where)
        except ScenarioError as error:
            problems += error.problems
    if not problems and hasattr(strategy, "problems"):  # what this strategy's own parameters cannot do on this cluster
        nodes, _ = nodes_and_tiers(scenario, where_ranks)
        for path, message in strategy.problems(scenario.cluster.workers, scenario.model.params, nodes):
            at = spec.origin + path if path else ("model", "params")
            problems.append(where.problem(at, message))
    return problems


FAMILIES: dict[str, Family] = {
    "communication": Family(
        simulate=run_communication,
        analyze=lambda result, scenario, strategy: reconcile(result.trace, inputs_for(scenario, strategy, result)),
        fits=_fits_communication,
        estimate=lambda scenario, strategy: _communication_estimate(scenario, strategy),
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
        keep_going: bool = False, force: bool = False) -> list[Outcome]:
    """Run every strategy of a scenario (a path, YAML already loaded, or a Scenario).

    ``on_progress(index, total, kind)`` is called before each strategy; ``monitor(world)``
    receives each simulated World before it runs (``World.progress()`` can be read from
    another thread while it does). A strategy that does not fit in memory raises
    OutOfMemoryError, unless ``keep_going``: then its outcome carries the error as
    ``failure`` and the next strategy runs (a comparison of schedules reports them all).
    ``force`` runs what the size limits would refuse.
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
            with _naming(spec.kind, type(strategy)):
                result = family.simulate(scenario, strategy, where, monitor=monitor)
        except OutOfMemoryError as error:
            if not keep_going:
                raise
            outcomes.append(_did_not_fit(spec, scenario, strategy, error))
            continue
        except MemoryError:  # the host's memory, not a simulated device's: the estimate let it through, or --force
            raise SimulationError(f"{spec.kind}: this machine ran out of memory while simulating it "
                                  f"(estimated: {describe(family.estimate(scenario, strategy))})") from None
        outcomes.append(Outcome(spec, result, family.analyze(result, scenario, strategy)))
    return outcomes


def _did_not_fit(spec: StrategySpec, scenario: Scenario, strategy, error: OutOfMemoryError) -> Outcome:
    """The outcome of a strategy that ran out of memory: its trace until then, no checks, the error."""
    trace = getattr(error, "trace", None) or Trace(ranks=[], placement=[], nodes=[], links=[])
    trace.meta.setdefault("strategy", strategy.name)
    trace.meta.setdefault("out_of_memory", str(error))
    result = RunResult(scenario, strategy, trace, verified=False, wall_seconds=0.0)
    return Outcome(spec, result, Reconciliation([], [str(error)]), failure=error)


def build_strategies(scenario: Scenario, where: Locations, force: bool = False) -> list:
    """A strategy object per entry of ``strategy``, its parameters validated; located errors otherwise.

    Each is sized first (its family's ``estimate``, from closed forms, before any topology
    is built): a run beyond the limits is a problem unless ``force``, and then its
    ``fits`` is not checked (building the network of a run that large is what the limit
    spares). Derived times that overflow are a problem, ``force`` or not.
    """
    problems, strategies = [], []
    for spec in scenario.strategy:
        strategy, found = _build_strategy(spec, where)
        problems += found
        if strategy is not None:
            problems += _check(scenario, strategy, spec, where, force)
            strategies.append(strategy)
    if problems:
        raise ScenarioError(sort_problems(problems, main=where.file))
    return strategies


def _check(scenario: Scenario, strategy, spec: StrategySpec, where: Locations, force: bool) -> list:
    """What keeps one strategy from running: its size first (cheap: closed forms, no topology), then
    what its family needs (``fits``: the network is built there), then times that overflow."""
    family = FAMILIES[strategy.family]
    with _naming(spec.kind, type(strategy)):
        size = family.estimate(scenario, strategy)  # None while the scenario lacks what sizing needs
        too_large = [] if force or size is None else limit_problems(size, where, spec.kind)
        if too_large:  # building the network of a run that large is what the limit spares
            return too_large
        fits = family.fits(scenario, strategy, spec, where)
        return fits or (overflow_problems(size, where) if size is not None else [])


def _communication_estimate(scenario: Scenario, strategy):
    """Size a gradient exchange from the closed forms' inputs without a layout (a collective's count needs
    the routes of a built cluster: it is sized without it); None while the scenario lacks what that needs."""
    cluster = scenario.cluster
    if scenario.model.params is None or (cluster.network is None and cluster.nodes is None) \
            or cluster.workers < strategy.min_workers:
        return None
    inputs = None if hasattr(strategy, "plan") else inputs_for(scenario, strategy)
    return communication_estimate(scenario, strategy, inputs)


@contextmanager
def _naming(kind: str, cls: type):
    """A strategy bug (engine/faults.py) leaves here saying which strategy, or which plugin, it was in."""
    try:
        yield
    except StrategyBug as bug:
        bug.strategy = bug.strategy or label(kind, cls)
        raise


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
    except BrokenPlugin as exc:
        return None, [where.problem(spec.origin + ("kind",), str(exc))]
    try:
        strategy = cls(cls.Params.model_validate(spec.params))
    except ValidationError as exc:
        return None, problems_from_validation(exc, where, cls.Params, prefix=spec.origin)
    strategy.origin = spec.origin
    return strategy, []


def inputs_for(scenario: Scenario, strategy, result: RunResult | None = None) -> Inputs:
    """What the closed forms may know: the scenario's numbers, the strategy's parameters and,
    when the run's layout is known, the platform (routes between ranks) — never the trace.

    A cluster of nodes gives the one-hop figures of its fastest hop (see ``link_figures``);
    its formulas use the platform's routes.
    """
    topology, bandwidth, latency = link_figures(scenario.cluster)
    model = scenario.cluster.network_model
    params = strategy.params
    return Inputs(
        kind=strategy.name,
        workers=scenario.cluster.workers,
        params=scenario.model.params,
        bytes_per_param=scenario.model.bytes_per_param,
        bandwidth=bandwidth,
        latency=latency,
        topology=topology,
        flops=scenario.cluster.gpu.flops,
        reduce_compute=getattr(params, "reduce_compute", False),
        server=getattr(params, "server", "dedicated"),
        network=model,
        collective=_collective_call(scenario, strategy, result),
        platform=platform_of(result.layout, model) if result is not None and result.layout else None,
    )


def platform_of(layout, model: str) -> Platform:
    """The closed forms' view of a layout: links, and the route between two ranks' nodes."""
    topology, placement = layout.topology, layout.placement

    def route(src: int, dst: int) -> tuple[int, ...]:
        a, b = placement[src], placement[dst]
        return () if a == b else topology.route(a, b).links

    return Platform(tuple(topology.links), route, model)


def _collective_call(scenario: Scenario, strategy, result: RunResult | None) -> CollectiveCall | None:
    """What a collective strategy runs (auto resolved as the run resolved it), for its closed forms."""
    if not hasattr(strategy, "plan"):
        return None
    where_ranks = result.layout if result is not None and result.layout else layout(scenario, strategy, Locations("<inputs>"))
    nodes, tiers = nodes_and_tiers(scenario, where_ranks)
    n, p, s = scenario.cluster.workers, scenario.model.params, scenario.model.bytes_per_param
    q = strategy.params
    algorithm = strategy.plan(tiers, n, p * s)[0].algorithm
    return CollectiveCall(q.op, algorithm, tuple(range(n)), p, s, q.root, q.channels, q.servers, nodes)


def available_strategies() -> dict[str, type]:
    """Every registered strategy by name (built-ins and installed plugins)."""
    return available()
