"""``algorithm: auto``: predict each algorithm's time from sizes and the tiers, pick the cheapest.

In the spirit of NCCL's tuner (NVIDIA/nccl, src/graph/tuning.cc: ncclTopoTuneModel
and ncclTopoGetAlgoTime): per algorithm, time = a latency term (a base latency plus
one alpha per dependent step, per tier) + bytes on the wire / (bandwidth x the
algorithm's efficiency). NCCL's constants model its protocols (e.g. tree busBw
x 0.92, ring base latency 8.4 us for Simple); distsim's network has no protocol
overheads, so by default every efficiency is 1 and every base latency 0, and then
these predictions are the alpha-beta times the simulation gives on a switch for
powers of two and evenly divisible sizes (tests/test_tuner.py checks them against
the analyzer's closed forms). Give NCCL's figures in ``Tuning`` to model a real stack.

A pure function of (op, bytes, group, tiers): no engine, no simulation. Flat
algorithms on a group that spans several nodes are charged the slower (inter-node)
tier for every step, as a ring step waits for its slowest hop; hierarchical is
charged each tier for its own steps.

Sizes: ``nbytes`` is the collective's buffer as NCCL counts it: the tensor being
reduced or broadcast, the whole gathered result of an all-gather, the whole input
of a reduce-scatter, one rank's send buffer of an all-to-all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from distsim.collectives.catalog import CATALOG, algorithms_for, is_power_of_two, node_boxes, refusal


@dataclass(frozen=True)
class Tier:
    """One level of the network: alpha (s) and beta (bytes/s per direction) between two ranks."""

    latency: float
    bandwidth: float


@dataclass(frozen=True)
class Tiers:
    """What the tuner knows of a cluster: the two tiers, and which ranks share a node."""

    intra: Tier
    inter: Tier
    nodes: tuple[tuple[int, ...], ...]

    @classmethod
    def flat(cls, workers: int, latency: float, bandwidth: float) -> "Tiers":
        """One rank per node, one tier (a ``workers:`` cluster)."""
        tier = Tier(latency, bandwidth)
        return cls(tier, tier, tuple((rank,) for rank in range(workers)))


@dataclass(frozen=True)
class Tuning:
    """Knobs of the cost model, and the parameters it assumes for multi_ring and parameter_server."""

    efficiency: Mapping[str, float] = field(default_factory=dict)  # algorithm -> bandwidth factor (default 1)
    base_latency: Mapping[str, float] = field(default_factory=dict)  # algorithm -> seconds per call (default 0)
    candidates: tuple[str, ...] | None = None  # None: every algorithm of the op that can run
    channels: int = 2
    servers: int = 1


@dataclass(frozen=True)
class Estimate:
    algorithm: str
    latency_s: float  # base latency + alpha per dependent step
    bandwidth_s: float  # bytes on the busiest link / (beta x efficiency)

    @property
    def seconds(self) -> float:
        return self.latency_s + self.bandwidth_s


@dataclass(frozen=True)
class Shape:
    """The group as the formulas see it: n ranks, N nodes of G ranks, and the tiers to charge."""

    n: int
    nodes: int
    per_node: int
    flat: Tier  # the tier a flat algorithm's steps wait for
    intra: Tier
    inter: Tier


def shape_of(group, tiers: Tiers) -> Shape:
    boxes = node_boxes(tuple(group), tiers.nodes)
    flat = tiers.inter if len(boxes) > 1 else tiers.intra
    return Shape(len(group), len(boxes), len(boxes[0]), flat, tiers.intra, tiers.inter)


def _log2(n: int) -> int:
    """ceil(log2 n): rounds of a doubling algorithm, depth of NCCL's binary tree."""
    return max(n - 1, 0).bit_length()


def _fold(n: int) -> tuple[int, int]:
    """(rounds, 1 if the group is folded to the power of two below n else 0)."""
    rounds = n.bit_length() - 1
    return rounds, 0 if is_power_of_two(n) else 1


# Each formula: (shape, bytes, tuning) -> (alpha-weighted latency in seconds, seconds on the wire).
Formula = Callable[[Shape, float, Tuning], tuple[float, float]]


def _steps(count: float, wire: float) -> Formula:
    """``count`` dependent steps on the flat tier, ``wire`` x bytes through one rank's link."""
    return lambda s, m, t: (count * s.flat.latency, wire * m / s.flat.bandwidth)


def _ring_all_reduce(s, m, t):
    return _steps(2 * (s.n - 1), 2 * (s.n - 1) / s.n)(s, m, t)


def _ring_half(s, m, t):  # reduce-scatter, all-gather: one pass round the ring
    return _steps(s.n - 1, (s.n - 1) / s.n)(s, m, t)


def _chain(s, m, t):  # broadcast, reduce: n chunks down a chain of n-1 hops; latencies overlap
    return _steps(s.n - 1, 2 * (s.n - 1) / s.n)(s, m, t)


def _tree_one_way(s, m, t):  # depth D; each level below the root sends to two children in turn
    depth = _log2(s.n)
    return _steps(depth, 2 * depth - 1)(s, m, t)


def _tree_all_reduce(s, m, t):
    lat, wire = _tree_one_way(s, m, t)
    return 2 * lat, 2 * wire


def _double_tree(s, m, t):  # two trees at once, half the bytes each
    lat, wire = _tree_all_reduce(s, m, t)
    return lat, wire / 2


def _halving_doubling(s, m, t):
    rounds, folded = _fold(s.n)
    size = 1 << rounds
    return _steps(2 * rounds + 2 * folded, 2 * (size - 1) / size + 2 * folded)(s, m, t)


def _recursive_doubling(s, m, t):
    rounds, folded = _fold(s.n)
    return _steps(rounds + 2 * folded, rounds + 2 * folded)(s, m, t)


def _log_rounds_gather(s, m, t):  # recursive doubling and Bruck all-gather, halving reduce-scatter
    return _steps(_log2(s.n), (s.n - 1) / s.n)(s, m, t)


def _bruck_all_to_all(s, m, t):
    blocks = sum(bin(q).count("1") for q in range(s.n))  # block-moves over all rounds
    return _steps(_log2(s.n), blocks / s.n)(s, m, t)


def _pairwise(s, m, t):
    return _steps(s.n - 1, (s.n - 1) / s.n)(s, m, t)


def _hierarchical(s, m, t):
    g, nodes = s.per_node, s.nodes
    latency = 2 * (g - 1) * s.intra.latency + 2 * (nodes - 1) * s.inter.latency
    wire = 2 * (g - 1) / g * m / s.intra.bandwidth + 2 * (nodes - 1) / (nodes * g) * m / s.inter.bandwidth
    return latency, wire


def _parameter_server(s, m, t):
    return _steps(2, 2 * (s.n - 1) / t.servers)(s, m, t)


FORMULAS: dict[tuple[str, str], Formula] = {
    ("all_reduce", "ring"): _ring_all_reduce,
    ("all_reduce", "multi_ring"): _ring_all_reduce,
    ("all_reduce", "tree"): _tree_all_reduce,
    ("all_reduce", "double_binary_tree"): _double_tree,
    ("all_reduce", "halving_doubling"): _halving_doubling,
    ("all_reduce", "recursive_doubling"): _recursive_doubling,
    ("all_reduce", "hierarchical"): _hierarchical,
    ("all_reduce", "parameter_server"): _parameter_server,
    ("reduce_scatter", "ring"): _ring_half,
    ("reduce_scatter", "multi_ring"): _ring_half,
    ("reduce_scatter", "halving_doubling"): _log_rounds_gather,
    ("all_gather", "ring"): _ring_half,
    ("all_gather", "multi_ring"): _ring_half,
    ("all_gather", "recursive_doubling"): _log_rounds_gather,
    ("all_gather", "bruck"): _log_rounds_gather,
    ("broadcast", "ring"): _chain,
    ("broadcast", "tree"): _tree_one_way,
    ("reduce", "ring"): _chain,
    ("reduce", "tree"): _tree_one_way,
    ("all_to_all", "bruck"): _bruck_all_to_all,
    ("all_to_all", "pairwise"): _pairwise,
}


def estimate(op: str, algorithm: str, nbytes: float, group, tiers: Tiers, tuning: Tuning = Tuning()) -> Estimate:
    """The predicted time of one call (no check that the algorithm can run on this group)."""
    shape = shape_of(group, tiers)
    if shape.n == 1:
        return Estimate(algorithm, 0.0, 0.0)
    latency, wire = FORMULAS[(op, algorithm)](shape, nbytes, tuning)
    return Estimate(
        algorithm,
        tuning.base_latency.get(algorithm, 0.0) + latency,
        wire / tuning.efficiency.get(algorithm, 1.0),
    )


def ranking(op: str, nbytes: float, group, tiers: Tiers, tuning: Tuning = Tuning()) -> list[Estimate]:
    """Every candidate that can run on this group, cheapest first (ties: table order)."""
    boxes = tuple(len(box) for box in node_boxes(tuple(group), tiers.nodes))
    names = tuning.candidates if tuning.candidates is not None else algorithms_for(op)
    runnable = [
        name for name in names
        if refusal(op, name, len(group), channels=tuning.channels, servers=tuning.servers, box_sizes=boxes) is None
    ]
    order = {entry.name: k for k, entry in enumerate(CATALOG)}
    found = [estimate(op, name, nbytes, group, tiers, tuning) for name in runnable]
    return sorted(found, key=lambda e: (e.seconds, order[e.algorithm]))


def choose(op: str, nbytes: float, group, tiers: Tiers, tuning: Tuning = Tuning()) -> Estimate:
    """The cheapest algorithm for this call (the first of :func:`ranking`)."""
    ranked = ranking(op, nbytes, group, tiers, tuning)
    if not ranked:
        raise ValueError(f"no candidate algorithm can run {op} on {len(group)} ranks")
    return ranked[0]


def crossovers(op: str, group, tiers: Tiers, tuning: Tuning, low: float, high: float, points: int = 400):
    """(bytes, cheaper below, cheaper above) wherever the cheapest algorithm changes between ``low`` and ``high``.

    Scans a log-spaced grid, then bisects each change to a relative precision of 1e-9.
    """
    grid = [low * (high / low) ** (k / (points - 1)) for k in range(points)]
    best = [choose(op, m, group, tiers, tuning).algorithm for m in grid]
    found = []
    for a, b, left, right in zip(grid, grid[1:], best, best[1:]):
        if left == right:
            continue
        while b - a > 1e-9 * b:
            mid = math.sqrt(a * b)
            if choose(op, mid, group, tiers, tuning).algorithm == left:
                a = mid
            else:
                b = mid
        found.append((b, left, right))
    return found
