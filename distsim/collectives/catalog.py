"""Which algorithm implements which collective, and when one cannot run: plain data, no engine.

The scenario layer (validation with located errors), the tuner and the dispatcher
all read this one table, so an algorithm refused at load time is the same one the
library would refuse at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

OPS = ("all_reduce", "reduce_scatter", "all_gather", "broadcast", "reduce", "all_to_all")


@dataclass(frozen=True)
class Entry:
    name: str
    ops: tuple[str, ...]
    summary: str
    source: str


CATALOG: tuple[Entry, ...] = (
    Entry("ring", ("all_reduce", "reduce_scatter", "all_gather", "broadcast", "reduce"),
          "n chunks round a logical ring; broadcast and reduce pipelined along it",
          "Patarasuk & Yuan, JPDC 2009; NCCL src/device/all_reduce.h"),
    Entry("multi_ring", ("all_reduce", "reduce_scatter", "all_gather"),
          "the tensor split over c rings (NCCL channels), alternate rings in opposite directions",
          "NCCL src/graph/rings.cc, src/enqueue.cc (channels)"),
    Entry("tree", ("all_reduce", "broadcast", "reduce"),
          "whole tensors up and down NCCL's binary tree",
          "NCCL src/graph/trees.cc (ncclGetBtree)"),
    Entry("double_binary_tree", ("all_reduce",),
          "half the tensor on each of two complementary binary trees",
          "Sanders, Speck & Traff, Parallel Computing 2009; NCCL src/graph/trees.cc (ncclGetDtree)"),
    Entry("halving_doubling", ("all_reduce", "reduce_scatter"),
          "reduce-scatter by recursive halving, all-gather by recursive doubling",
          "Rabenseifner, ICCS 2004; Thakur, Rabenseifner & Gropp, IJHPCA 2005"),
    Entry("recursive_doubling", ("all_reduce", "all_gather"),
          "log2 n rounds of exchanges at distance 1, 2, 4, ...",
          "Thakur, Rabenseifner & Gropp, IJHPCA 2005"),
    Entry("bruck", ("all_to_all", "all_gather"),
          "ceil(log2 n) rounds at distance 2^k, any n",
          "Bruck et al., IEEE TPDS 1997"),
    Entry("pairwise", ("all_to_all",),
          "n-1 steps; at step k send to i+k, receive from i-k",
          "Thakur, Rabenseifner & Gropp, IJHPCA 2005"),
    Entry("hierarchical", ("all_reduce",),
          "reduce-scatter inside nodes, all-reduce across nodes per rail, all-gather inside",
          "Jia et al., arXiv:1807.11205, 2018; NCCL's intra/inter-node split"),
    Entry("parameter_server", ("all_reduce",),
          "k of the ranks own a shard each: push, add, pull",
          "Li et al., OSDI 2014; Jiang et al. (BytePS), OSDI 2020"),
)

BY_NAME = {entry.name: entry for entry in CATALOG}
ALGORITHMS = tuple(BY_NAME)


def algorithms_for(op: str) -> tuple[str, ...]:
    """The algorithms that implement ``op``, in table order."""
    return tuple(entry.name for entry in CATALOG if op in entry.ops)


def node_boxes(group, nodes) -> list[tuple[int, ...]]:
    """The group's ranks node by node: nodes in the order the group reaches them, ranks in group order.

    ``nodes`` lists the cluster's ranks per node; a rank on no listed node is a node of its own.
    Every rank of a group asks the same question: the answer is computed once (cached).
    """
    return list(_node_boxes(tuple(group), tuple(tuple(box) for box in nodes or ())))


@lru_cache(maxsize=256)
def _node_boxes(group: tuple, nodes: tuple) -> tuple[tuple[int, ...], ...]:
    node_of = {rank: k for k, box in enumerate(nodes) for rank in box}
    found: dict[int, list[int]] = {}
    for rank in group:
        found.setdefault(node_of.get(rank, -1 - rank), []).append(rank)
    return tuple(tuple(box) for box in found.values())


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def refusal(op: str, algorithm: str, n: int, *, channels: int = 1, servers: int = 1,
            box_sizes: tuple[int, ...] = ()) -> str | None:
    """Why ``algorithm`` cannot run ``op`` on a group of n ranks, or None when it can.

    ``box_sizes``: how many of the group's ranks each node holds (hierarchical needs them equal).
    """
    if algorithm not in BY_NAME:
        return f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}"
    if op not in BY_NAME[algorithm].ops:
        return f"{algorithm} does not implement {op}; {op} algorithms: {', '.join(algorithms_for(op))}"
    if (op, algorithm) in (("all_gather", "recursive_doubling"), ("reduce_scatter", "halving_doubling")) and not is_power_of_two(n):
        other = "bruck or ring" if op == "all_gather" else "ring or multi_ring"
        return f"{algorithm} {op} needs a power-of-two number of ranks, got {n} (use {other})"
    if algorithm == "multi_ring" and channels < 1:
        return f"multi_ring needs at least one channel, got {channels}"
    if algorithm == "parameter_server" and not 1 <= servers <= n:
        return f"parameter_server needs between 1 and {n} servers (one per rank at most), got {servers}"
    if algorithm == "hierarchical" and len(set(box_sizes)) > 1:
        sizes = ", ".join(map(str, sorted(set(box_sizes))))
        return f"hierarchical needs the same number of the group's ranks on every node, got {sizes}"
    return None


def size_refusal(op: str, n: int, elements: int) -> str | None:
    """Why a buffer of ``elements`` (NCCL's count: an all-gather's whole result) does not suit ``op`` on n ranks.

    reduce_scatter, all_gather and all_to_all move n equal blocks, as in NCCL and MPI.
    """
    if op in ("reduce_scatter", "all_gather", "all_to_all") and elements % n:
        return f"{op} moves {n} equal blocks, so its {elements} elements must be divisible by {n}"
    return None
