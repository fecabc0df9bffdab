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

from distsim.engine import Device, Phantom, Tensor, World
from distsim.errors import ScenarioError, VerificationError
from distsim.hardware import build_topology
from distsim.hardware.topology import disconnected_endpoints
from distsim.scenario import Locations, Scenario
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
    ranks, placement, endpoints = _place_ranks(n, strategy, where)
    verify = should_verify(scenario)
    world = World(
        _topology(scenario, endpoints, where),
        ranks,
        placement,
        Device(scenario.cluster.gpu.flops, scenario.cluster.gpu.memory),
        scenario.model.bytes_per_param,
        copies_payloads=verify,
    )
    rng = np.random.default_rng(scenario.run.seed)
    gradients = [rng.standard_normal(p) if verify else Phantom(p) for _ in range(n)]
    weights = rng.standard_normal(p) if verify else Phantom(p)
    expected = strategy.expected(np.array(gradients), weights) if verify else None
    job = CommJob(world, n, list(range(n)), gradients, weights)
    if monitor is not None:
        monitor(world)
    for rank, program in strategy.programs(job):
        world.spawn(rank, program)
    results = world.run()
    if verify:
        _check_results(results, range(n), expected, world)
    world.trace.meta.update(strategy=strategy.name, workers=n, params=p, seed=scenario.run.seed, verified=verify)
    peaks = {world.ranks[c.rank]: c.memory_peak for c in world.contexts}
    return RunResult(scenario, strategy, world.trace, verify, time.perf_counter() - started, peaks)


def placement_problems(scenario: Scenario, strategy, where: Locations) -> list:
    """What :func:`run_communication` would refuse before simulating (a server on a worker that does not
    exist, a graph that leaves an endpoint unconnected), as located problems: the API checks them when a
    scenario is loaded, so that ``validate`` refuses exactly what ``run`` does."""
    try:
        _, _, endpoints = _place_ranks(scenario.cluster.workers, strategy, where)
        if scenario.cluster.network.topology == "graph":  # the named topologies are connected by construction
            _topology(scenario, endpoints, where)
    except ScenarioError as exc:
        return exc.problems
    return []


def _place_ranks(n: int, strategy, where: Locations):
    """Workers 0..n-1 on nodes w0..w{n-1}; extra ranks (a server) on their own node or a worker's."""
    ranks = [f"w{i}" for i in range(n)]
    endpoints = list(ranks)
    placement = list(range(n))
    for name, share in strategy.extra_ranks():
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


def _topology(scenario: Scenario, endpoints: list[str], where: Locations):
    net = scenario.cluster.network
    edges = [(_node_name(e.nodes[0]), _node_name(e.nodes[1]), e.bandwidth, e.latency) for e in net.edges or ()]
    topology = build_topology(net.topology, endpoints, net.bandwidth, net.latency, edges)
    cut_off = disconnected_endpoints(topology)
    if cut_off:
        path = ("cluster", "network", "edges")
        raise ScenarioError([where.problem(path, f"no cable connects {', '.join(cut_off)} to {endpoints[0]}")])
    return topology


def _node_name(node: int | str) -> str:
    return f"w{node}" if isinstance(node, int) else node


def _check_results(results: dict, workers, expected: np.ndarray, world: World) -> None:
    wrong = [w for w in workers if not np.allclose(results[w], expected, rtol=1e-9, atol=1e-9)]
    if wrong:
        worst = max(float(np.max(np.abs(results[w] - expected))) for w in wrong)
        names = ", ".join(world.ranks[w] for w in wrong[:8])
        raise VerificationError(
            f"payload check failed: {len(wrong)} of {len(list(workers))} workers ({names}) "
            f"do not hold the expected result (largest error {worst:.3g})"
        )
