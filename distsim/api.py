"""The composition root: load a scenario, run its strategies, reconcile each with the closed forms.

This is the Python API for notebooks and scripts::

    import distsim
    outcomes = distsim.run("scenarios/ring_allreduce.yaml")
    outcomes[0].reconciliation.ok, outcomes[0].trace.messages["t_arrive"]

It is also all the CLI calls. Data flows one way: YAML -> Scenario -> World ->
strategy processes -> Trace -> Reconciliation.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from distsim.analysis import Reconciliation
from distsim.communication import inputs_for, platform_of  # noqa: F401  (part of the API)
from distsim.errors import OutOfMemoryError, ScenarioError, SimulationError, StrategyBug
from distsim.estimate import describe, limit_problems, overflow_problems
from distsim.kinds import KINDS, RunKind
from distsim.runner import RunResult
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
    def run_kind(self) -> RunKind:
        """Its entry of the run-kind table: how it is checked and shown."""
        return KINDS[self.family]

    @property
    def ok(self) -> bool:
        return self.failure is None and self.reconciliation.ok


@dataclass(frozen=True)
class Prepared:
    """A scenario ready to run: loaded, checked, and its strategies built (once) and fitted to it."""

    scenario: Scenario
    where: Locations
    strategies: tuple


def prepare(source: str | Path, text: str | None = None, force: bool = False) -> Prepared:
    """Read a scenario file (or ``text``, named ``source``), check it and build every strategy it names
    once: the loader's check of the strategies as written builds them, and the same objects run.

    A run estimated beyond the limits (distsim.estimate) is a problem too, unless ``force``.
    """
    built: dict[tuple, object] = {}

    def check(specs: list[StrategySpec], where: Locations) -> list:
        problems = []
        for spec in specs:
            built[spec.origin], found = _build_strategy(spec, where)
            problems += found
        return problems

    if text is None:
        scenario, where = load_scenario(source, check=check)
    else:
        scenario, where = parse_scenario(text, str(source), check=check)
    strategies = _fitted(scenario, where, [(spec, built[spec.origin]) for spec in scenario.strategy], force=force)
    return Prepared(scenario, where, tuple(strategies))


def load(source: str | Path, force: bool = False) -> tuple[Scenario, Locations]:
    """Read a scenario file and check every strategy it names (ScenarioError lists every problem);
    ``force`` lifts the size limits."""
    prepared = prepare(source, force=force)
    return prepared.scenario, prepared.where


def loads(text: str, name: str = "<string>", force: bool = False) -> tuple[Scenario, Locations]:
    """Like :func:`load`, from YAML text."""
    prepared = prepare(name, text, force)
    return prepared.scenario, prepared.where


def run(source: str | Path | Scenario | Prepared, where: Locations | None = None, on_progress=None, monitor=None,
        keep_going: bool = False, force: bool = False) -> list[Outcome]:
    """Run every strategy of a scenario (a path, a :class:`Prepared` scenario, or a Scenario).

    ``on_progress(index, total, kind)`` is called before each strategy; ``monitor(world)``
    receives each simulated World before it runs (``World.progress()`` can be read from
    another thread while it does). A strategy that does not fit in memory raises
    OutOfMemoryError, unless ``keep_going``: then its outcome carries the error as
    ``failure`` and the next strategy runs (a comparison of schedules reports them all).
    Strategies are built once per run: from a path or a Prepared scenario, the objects the
    loader checked; from a Scenario, built here. ``force`` runs what the size limits would refuse.
    """
    if isinstance(source, (str, Path)):
        source = prepare(source, force=force)
    if isinstance(source, Prepared):
        scenario, where, strategies = source.scenario, source.where, list(source.strategies)
    else:
        scenario, where = source, where or Locations("<scenario>")
        strategies = build_strategies(scenario, where, force)
    outcomes = []
    for index, (spec, strategy) in enumerate(zip(scenario.strategy, strategies)):
        if on_progress:
            on_progress(index, len(strategies), spec.kind)
        kind = KINDS[strategy.family]
        try:
            with _naming(spec.kind, type(strategy)):
                result = kind.simulate(scenario, strategy, where, monitor=monitor)
        except OutOfMemoryError as error:
            if not keep_going:
                raise
            outcomes.append(_did_not_fit(spec, scenario, strategy, error))
            continue
        except MemoryError:  # the host's memory, not a simulated device's: the estimate let it through, or --force
            size = kind.estimate(scenario, strategy)
            raise SimulationError(f"{spec.kind}: this machine ran out of memory while simulating it"
                                  + (f" (estimated: {describe(size)})" if size is not None else "")) from None
        outcomes.append(Outcome(spec, result, kind.analyze(result, scenario, strategy)))
    return outcomes


def _did_not_fit(spec: StrategySpec, scenario: Scenario, strategy, error: OutOfMemoryError) -> Outcome:
    """The outcome of a strategy that ran out of memory: its trace until then, no checks, the error."""
    trace = getattr(error, "trace", None) or Trace(ranks=[], placement=[], nodes=[], links=[])
    trace.meta.setdefault("strategy", strategy.name)
    trace.meta.setdefault("out_of_memory", str(error))
    result = RunResult(scenario, strategy, trace, verified=False, wall_seconds=0.0)
    return Outcome(spec, result, Reconciliation([], [str(error)]), failure=error)


def build_strategies(scenario: Scenario, where: Locations, force: bool = False) -> list:
    """A strategy object per entry of ``strategy``, its parameters validated and fitted to the scenario
    (see ``_check``); located errors otherwise."""
    problems, built = [], []
    for spec in scenario.strategy:
        strategy, found = _build_strategy(spec, where)
        problems += found
        built.append((spec, strategy))
    return _fitted(scenario, where, built, problems, force)


def _fitted(scenario: Scenario, where: Locations, built: list[tuple[StrategySpec, object]], problems=(),
            force: bool = False) -> list:
    """The built strategies, once each fits the scenario (``_check``); ScenarioError lists every
    problem (``problems``: those found building them)."""
    problems, strategies = list(problems), []
    for spec, strategy in built:
        if strategy is not None:
            problems += _check(scenario, strategy, spec, where, force)
            strategies.append(strategy)
    if problems:
        raise ScenarioError(sort_problems(problems, main=where.file))
    return strategies


def _check(scenario: Scenario, strategy, spec: StrategySpec, where: Locations, force: bool) -> list:
    """What keeps one strategy from running: its size first (its kind's ``estimate``: closed forms, no
    topology), beyond the limits a problem unless ``force``; then what its kind needs of the scenario
    (``fits``: the network is built there, which is what the limit spares); then times that overflow a
    double (a problem, ``force`` or not: such a result cannot be written as JSON)."""
    kind = KINDS[strategy.family]
    with _naming(spec.kind, type(strategy)):
        size = kind.estimate(scenario, strategy)  # None while the scenario lacks what sizing needs
        too_large = [] if force or size is None else limit_problems(size, where, spec.kind)
        if too_large:
            return too_large
        fits = kind.fits(scenario, strategy, spec, where)
        return fits or (overflow_problems(size, where) if size is not None else [])


@contextmanager
def _naming(kind: str, cls: type):
    """A strategy bug (engine/faults.py) leaves here saying which strategy, or which plugin, it was in."""
    try:
        yield
    except StrategyBug as bug:
        bug.strategy = bug.strategy or label(kind, cls)
        raise


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


def available_strategies() -> dict[str, type]:
    """Every registered strategy by name (built-ins and installed plugins)."""
    return available()
