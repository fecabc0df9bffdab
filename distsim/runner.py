"""Build the simulated cluster a scenario describes, run one strategy on it, verify the result.

This is where the layers meet: a validated scenario becomes a topology and a
:class:`~distsim.engine.World`, a strategy's processes are spawned on it, and in
verification mode the workers' final tensors are checked against the exact
answer computed directly with numpy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from distsim.engine import Device, Phantom, Tensor, World, faults
from distsim.errors import ScenarioError, VerificationError
from distsim.hardware import Topology, build_topology
from distsim.hardware.topology import disconnected_endpoints
from distsim.scenario import Locations, Scenario
from distsim.scenario.problems import suggest
from distsim.trace import Trace

AUTO_VERIFY_LIMIT = 10_000_000  # params x workers at or below which payloads are real by default


@dataclass
class RunResult:
    """One strategy run on one scenario: the trace and what we know about it."""

    scenario: Scenario
    strategy: object
    trace: Trace
    verified: bool  # True when real payloads were carried and every worker's result checked
    wall_seconds: float
    memory_peak: dict[str, int] = field(default_factory=dict)  # rank name -> peak device bytes
    layout: "Layout | None" = None  # where the ranks ran (communication runs)

    @property
    def kind(self) -> str:
        return self.strategy.name


@dataclass
class CommJob:
    """What a communication strategy's ``programs`` receives (see strategies.base.Job)."""

    world: World
    world_size: int
    workers: list[int]
    gradients: list[Tensor]
    weights: Tensor

    def context(self, rank: int):
        return self.world.contexts[rank]

    def gradient(self, rank: int) -> Tensor:
        return self.gradients[rank]


def should_verify(scenario: Scenario) -> bool:
    if scenario.run.verify_payload is not None:
        return scenario.run.verify_payload
    return scenario.model.params * scenario.cluster.workers <= AUTO_VERIFY_LIMIT


def run_communication(scenario: Scenario, strategy, where: Locations, monitor=None) -> RunResult:
    """Simulate one gradient exchange of ``strategy`` on ``scenario``'s cluster.

    ``monitor``, if given, is called with the World before it runs (to watch its progress).
    """
    started = time.perf_counter()
    n, p = scenario.cluster.workers, scenario.model.params
    where_ranks = layout(scenario, strategy, where)
    verify = should_verify(scenario)
    world = World(
        where_ranks.topology,
        where_ranks.ranks,
        where_ranks.placement,
        Device(scenario.cluster.gpu.flops, scenario.cluster.gpu.memory),
        scenario.model.bytes_per_param,
        copies_payloads=verify,
        network=scenario.cluster.network.model,
    )
    rng = np.random.default_rng(scenario.run.seed)
    gradients = [rng.standard_normal(p) if verify else Phantom(p) for _ in range(n)]
    weights = rng.standard_normal(p) if verify else Phantom(p)
    expected = _expected(strategy, gradients, weights, p) if verify else None
    job = CommJob(world, n, list(range(n)), gradients, weights)
    if monitor is not None:
        monitor(world)
    programs = faults.programs(strategy, job, world.ranks)  # the strategy's bugs are located (engine/faults.py)
    for rank, program in programs.items():
        world.spawn(rank, program)
    results = world.run()
    faults.check_returns(results, programs, range(n), p, world.ranks)
    if verify:
        _check_results(results, range(n), expected, world)
    world.trace.meta.update(strategy=strategy.name, workers=n, params=p, seed=scenario.run.seed, verified=verify)
    peaks = {world.ranks[c.rank]: c.memory_peak for c in world.contexts}
    return RunResult(scenario, strategy, world.trace, verify, time.perf_counter() - started, peaks, where_ranks)


def _place_ranks(n: int, strategy, where: Locations):
    """Workers 0..n-1 on nodes w0..w{n-1}; extra ranks (a server) on their own node or a worker's."""
    ranks = [f"w{i}" for i in range(n)]
    endpoints = list(ranks)
    placement = list(range(n))
    for name, share in faults.call(strategy.extra_ranks, "extra_ranks()"):
        if share is None:
            placement.append(len(endpoints))
            endpoints.append(name)
        elif not 0 <= share < n:
            origin = getattr(strategy, "origin", ("strategy",))
            raise ScenarioError([where.problem(origin + ("server",), f"worker {share} does not exist (workers are 0..{n - 1})")])
        else:
            placement.append(share)
        ranks.append(name)
    return ranks, placement, endpoints


@dataclass(frozen=True)
class Layout:
    """Ranks (names), the node each runs on, and the topology joining the nodes."""

    ranks: list[str]
    placement: list[int]
    topology: Topology


def layout(scenario: Scenario, strategy, where: Locations) -> Layout:
    """Place ``strategy``'s ranks on ``scenario``'s network; ScenarioError lists every problem."""
    ranks, placement, endpoints = _place_ranks(scenario.cluster.workers, strategy, where)
    net = scenario.cluster.network
    path = ("cluster", "network", "edges")
    problems = _edge_name_problems(net, endpoints, where)
    if problems:
        raise ScenarioError(problems)
    edges = [(_node_name(e.nodes[0]), _node_name(e.nodes[1]), e.bandwidth, e.latency) for e in net.edges or ()]
    topology = build_topology(net.topology, endpoints, net.bandwidth, net.latency, edges)
    cut_off = disconnected_endpoints(topology)
    if cut_off:
        raise ScenarioError([where.problem(path, f"no cable connects {', '.join(cut_off)} to {endpoints[0]}")])
    return Layout(ranks, placement, topology)


def _edge_name_problems(net, endpoints: list[str], where: Locations) -> list:
    """Every name in a graph's ``edges`` must be an endpoint (worker, server) or a declared switch."""
    switches = list(net.switches or ())
    problems = [
        where.problem(("cluster", "network", "switches", i), f"{name!r} is a worker or server name, not a switch")
        for i, name in enumerate(switches) if name in endpoints or _is_worker_name(name)
    ]
    known = endpoints + switches
    reported = set()
    for i, edge in enumerate(net.edges or ()):
        for j, node in enumerate(edge.nodes):
            name = _node_name(node)
            if name in known or name in reported:
                continue
            reported.add(name)  # once per name: one undeclared switch is one mistake
            if _is_worker_name(name):
                what = f"there is no worker {name} (workers are w0..w{len([e for e in endpoints if _is_worker_name(e)]) - 1})"
            elif name == "ps":
                what = "'ps' is the parameter server's node, and no strategy here has a dedicated server"
            else:
                what = f"unknown node {name!r}{suggest(name, known)}: declare switches in cluster.network.switches"
            problems.append(where.problem(_edge_path(where, i, j), what))
    return problems


def _edge_path(where: Locations, edge: int, end: int) -> tuple:
    """The located path of an edge's end: ``edges.3.1`` as a list, ``edges.3.nodes.1`` as a mapping."""
    short = ("cluster", "network", "edges", edge, end)
    return short if short in where.points else ("cluster", "network", "edges", edge, "nodes", end)


def _is_worker_name(name: str) -> bool:
    return len(name) > 1 and name[0] == "w" and name[1:].isascii() and name[1:].isdigit()


def _node_name(node: int | str) -> str:
    return f"w{node}" if isinstance(node, int) else node


def _expected(strategy, gradients, weights, p: int):
    """What every worker must end with, from the strategy's ``expected`` (a bug in it is located)."""
    value = faults.call(strategy.expected, "expected()", np.array(gradients), weights)
    faults.check_expected(value, p, strategy.expected)
    return value


def _check_results(results: dict, workers, expected: np.ndarray, world: World) -> None:
    wrong = [w for w in workers if not np.allclose(results[w], expected, rtol=1e-9, atol=1e-9)]
    if wrong:
        worst = max(float(np.max(np.abs(results[w] - expected))) for w in wrong)
        names = ", ".join(world.ranks[w] for w in wrong[:8])
        raise VerificationError(
            f"payload check failed: {len(wrong)} of {len(list(workers))} workers ({names}) "
            f"do not hold the expected result (largest error {worst:.3g})"
        )
