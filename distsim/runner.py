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

from distsim.collectives.tuner import Tier, Tiers
from distsim.engine import Device, Phantom, Tensor, World, faults
from distsim.errors import ScenarioError, VerificationError
from distsim.hardware import Topology, build_topology
from distsim.hardware.cluster import cluster_topology, node_ranks
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
    facts: dict = field(default_factory=dict)  # what the strategy decided (e.g. the algorithm auto chose)

    @property
    def kind(self) -> str:
        """The strategy as the output names it (a collective adds its op and algorithm)."""
        return getattr(self.strategy, "label", self.strategy.name)


@dataclass
class CommJob:
    """What a communication strategy's ``programs`` receives (see strategies.base.Job)."""

    world: World
    world_size: int
    workers: list[int]
    gradients: list[Tensor]
    weights: Tensor
    nodes: tuple[tuple[int, ...], ...] = ()  # the workers' ranks node by node (box), in order
    tiers: Tiers | None = None  # what algorithm: auto predicts times on

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
        network=scenario.cluster.network_model,
    )
    rng = np.random.default_rng(scenario.run.seed)
    gradients = [rng.standard_normal(p) if verify else Phantom(p) for _ in range(n)]
    weights = rng.standard_normal(p) if verify else Phantom(p)
    expected = _expected(strategy, gradients, weights, n, p) if verify else None
    job = CommJob(world, n, list(range(n)), gradients, weights, *nodes_and_tiers(scenario, where_ranks))
    if monitor is not None:
        monitor(world)
    programs = faults.programs(strategy, job, world.ranks)  # the strategy's bugs are located (engine/faults.py)
    for rank, program in programs.items():
        world.spawn(rank, program)
    results = world.run()
    faults.check_returns(results, programs, _result_sizes(expected, n, p, strategy), world.ranks)
    if verify:
        _check_results(results, range(n), expected, world)
    facts = strategy.facts(job)
    world.trace.meta.update(strategy=strategy.name, workers=n, params=p, seed=scenario.run.seed, verified=verify, **facts)
    peaks = {world.ranks[c.rank]: c.memory_peak for c in world.contexts}
    return RunResult(scenario, strategy, world.trace, verify, time.perf_counter() - started, peaks, where_ranks, facts)


def nodes_and_tiers(scenario: Scenario, where_ranks: "Layout") -> tuple[tuple, Tiers]:
    """The workers node by node (one per node on a ``workers:`` cluster), and the two tiers the tuner
    sees, read off the routes: between two ranks of one node, and between the first ranks of two nodes."""
    nodes = tuple(node_ranks(scenario.cluster))
    inside = next(((box[0], box[1]) for box in nodes if len(box) > 1), None)
    across = (nodes[0][0], nodes[1][0]) if len(nodes) > 1 else None

    def tier(pair):
        route = where_ranks.topology.route(where_ranks.placement[pair[0]], where_ranks.placement[pair[1]])
        return Tier(route.latency, route.bandwidth)

    intra, inter = (tier(inside) if inside else None), (tier(across) if across else None)
    return nodes, Tiers(intra or inter, inter or intra, nodes)


def _place_ranks(n: int, strategy, where: Locations, in_nodes: bool = False):
    """Workers 0..n-1 on nodes w0..w{n-1}; extra ranks (a server) on their own node or a worker's.

    In a cluster of nodes (``in_nodes``) every endpoint is a GPU of a node, so a server shares a worker's.
    """
    ranks = [f"w{i}" for i in range(n)]
    endpoints = list(ranks)
    placement = list(range(n))
    for name, share in faults.call(strategy.extra_ranks, "extra_ranks()"):
        origin = getattr(strategy, "origin", ("strategy",))
        if share is None and in_nodes:
            raise ScenarioError([where.problem(origin + ("server",), "a cluster of nodes has no machine for a dedicated "
                                               f"server; place it on a GPU ({name} shares worker k's: server: k)")])
        if share is None:
            placement.append(len(endpoints))
            endpoints.append(name)
        elif not 0 <= share < n:
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
    in_nodes = scenario.cluster.nodes is not None
    ranks, placement, endpoints = _place_ranks(scenario.cluster.workers, strategy, where, in_nodes)
    if in_nodes:
        return Layout(ranks, placement, cluster_topology(scenario.cluster, endpoints, where))
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
                declared = f" (declared: {', '.join(switches)})" if 0 < len(switches) <= 8 else ""
                what = f"unknown node {name!r}{suggest(name, known)}: declare switches in cluster.network.switches{declared}"
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


def _expected(strategy, gradients, weights, n: int, p: int):
    """What every worker must end with, from the strategy's ``expected`` (a bug in it is located):
    one tensor for all, or a list with one per worker (None: that worker holds no result)."""
    value = faults.call(strategy.expected, "expected()", np.array(gradients), weights)
    faults.check_expected(value, n, p, strategy.expected)
    return value


def _result_sizes(expected, n: int, p: int, strategy) -> list[int | None]:
    """Per worker, the size of the tensor its program must return (None: nothing; -1: any tensor)."""
    if isinstance(expected, list):
        return [None if value is None else int(np.size(value)) for value in expected]
    if expected is None and strategy.result == "per_rank":  # a shard, a whole tensor or nothing: unknown here
        return [-1] * n
    return [p] * n


def _check_results(results: dict, workers, expected, world: World) -> None:
    """Every worker holds its expected result: one array for all, or a list with one per worker (None: no result)."""
    workers = list(workers)
    wanted = dict(zip(workers, expected)) if isinstance(expected, list) else dict.fromkeys(workers, expected)
    wrong = [w for w in workers if not _matches(results[w], wanted[w])]
    if wrong:
        worst = max(_error(results[w], wanted[w]) for w in wrong)
        names = ", ".join(world.ranks[w] for w in wrong[:8])
        raise VerificationError(
            f"payload check failed: {len(wrong)} of {len(list(workers))} workers ({names}) "
            f"do not hold the expected result (largest error {worst:.3g})"
        )


def _matches(result, expected) -> bool:
    if expected is None or result is None:
        return expected is None and result is None
    result = np.asarray(result)
    return result.shape == expected.shape and np.allclose(result, expected, rtol=1e-9, atol=1e-9)


def _error(result, expected) -> float:
    """How far a wrong result is from the expected one (infinite when it is missing or of another shape)."""
    if expected is None or result is None or np.shape(result) != expected.shape:
        return float("inf")
    return float(np.max(np.abs(result - expected)))
