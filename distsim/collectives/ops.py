"""The six collectives, as generators a rank program composes with ``yield from``::

    total = yield from all_reduce(ctx, group, gradient, algorithm="ring", phase="bucket3")

Every rank of ``group`` (a tuple of global ranks) makes the same call with a tensor
of the same size; each gets its own result. A collective only sends, receives and
adds through its rank's Context, never writes into the caller's tensor, and works
on real numpy payloads and on phantoms alike. Messages between two ranks are FIFO,
so collectives called one after another on overlapping groups stay matched.

Results: all_reduce, the sum; reduce_scatter, chunk i of the sum (i: the rank's
position in the group; the tensor must split into n equal chunks); all_gather, the
ranks' equal blocks end to end in group order; broadcast, the root's tensor;
reduce, the sum at the root and None elsewhere; all_to_all, block i of every rank's
tensor, in group order (block s of the result came from the rank at position s).

``algorithm="auto"`` asks the tuner (``tuner.py``) for the cheapest algorithm on
``tiers``, a :class:`~distsim.collectives.tuner.Tiers`.
"""

from __future__ import annotations

from dataclasses import dataclass

from distsim.collectives import (
    bruck,
    double_binary_tree,
    halving_doubling,
    hierarchical,
    multi_ring,
    pairwise,
    parameter_server,
    recursive_doubling,
    ring,
    tree,
)
from distsim.collectives.catalog import node_boxes, refusal, size_refusal
from distsim.collectives.peers import CollectiveError, Peers, copy_of
from distsim.collectives.tuner import Tiers, Tuning, choose

AUTO = "auto"
ROOTED = ("broadcast", "reduce")


@dataclass(frozen=True)
class Options:
    root: int | None = None  # broadcast, reduce: a rank of the group (default: the group's first)
    channels: int = 2  # multi_ring
    servers: int = 1  # parameter_server
    nodes: tuple | None = None  # hierarchical: ranks per node (default: the tiers's, else one rank per node)
    tiers: Tiers | None = None  # auto
    tuning: Tuning = Tuning()  # auto


def _plain(f):
    """An algorithm that needs nothing beyond the tensor and the phase."""
    return lambda ctx, peers, tensor, phase, options: f(ctx, peers, tensor, phase)


def _rooted(f):
    """An algorithm of a rooted collective: it gets the root's position in the group."""
    return lambda ctx, peers, tensor, phase, options: f(ctx, peers, tensor, phase, _root(peers, options))


def _root(peers: Peers, options: Options) -> int:
    root = peers.ranks[0] if options.root is None else options.root
    if root not in peers.ranks:
        raise CollectiveError(f"root {root} is not in the group {peers.ranks}")
    return peers.ranks.index(root)


def _nodes(options: Options):
    if options.nodes is not None:
        return options.nodes
    return options.tiers.nodes if options.tiers is not None else None


# (op, algorithm) -> (ctx, peers, tensor, phase, options) -> generator
TABLE = {
    ("all_reduce", "ring"): _plain(ring.all_reduce),
    ("all_reduce", "multi_ring"): lambda c, p, t, ph, o: multi_ring.all_reduce(c, p, t, ph, o.channels),
    ("all_reduce", "tree"): _plain(tree.all_reduce),
    ("all_reduce", "double_binary_tree"): _plain(double_binary_tree.all_reduce),
    ("all_reduce", "halving_doubling"): _plain(halving_doubling.all_reduce),
    ("all_reduce", "recursive_doubling"): _plain(recursive_doubling.all_reduce),
    ("all_reduce", "hierarchical"): lambda c, p, t, ph, o: hierarchical.all_reduce(c, p, t, ph, _nodes(o)),
    ("all_reduce", "parameter_server"): lambda c, p, t, ph, o: parameter_server.all_reduce(c, p, t, ph, o.servers),
    ("reduce_scatter", "ring"): _plain(ring.reduce_scatter),
    ("reduce_scatter", "multi_ring"): lambda c, p, t, ph, o: multi_ring.reduce_scatter(c, p, t, ph, o.channels),
    ("reduce_scatter", "halving_doubling"): _plain(halving_doubling.reduce_scatter),
    ("all_gather", "ring"): _plain(ring.all_gather),
    ("all_gather", "multi_ring"): lambda c, p, t, ph, o: multi_ring.all_gather(c, p, t, ph, o.channels),
    ("all_gather", "recursive_doubling"): _plain(recursive_doubling.all_gather),
    ("all_gather", "bruck"): _plain(bruck.all_gather),
    ("broadcast", "ring"): _rooted(ring.broadcast),
    ("broadcast", "tree"): _rooted(tree.broadcast),
    ("reduce", "ring"): _rooted(ring.reduce),
    ("reduce", "tree"): _rooted(tree.reduce),
    ("all_to_all", "bruck"): _plain(bruck.all_to_all),
    ("all_to_all", "pairwise"): _plain(pairwise.all_to_all),
}


def resolve(op: str, algorithm: str, group, nbytes: float, options: Options) -> str:
    """The algorithm to run: ``algorithm`` itself, or the tuner's choice for ``auto``; refused ones raise."""
    group = tuple(group)
    if algorithm == AUTO:
        if options.tiers is None:
            raise CollectiveError(f"{op} with algorithm 'auto' needs a tiers to predict times on")
        algorithm = choose(op, nbytes, group, options.tiers, options.tuning).algorithm
    boxes = tuple(len(box) for box in node_boxes(group, _nodes(options)))
    why = refusal(op, algorithm, len(group), channels=options.channels, servers=options.servers, box_sizes=boxes)
    if why:
        raise CollectiveError(why)
    return algorithm


def collective(op: str, ctx, group, tensor, algorithm: str, phase: str, options: Options):
    """Run ``op`` with ``algorithm`` on ``group`` from this rank; returns this rank's result."""
    peers = Peers.of(group, ctx.rank)
    name = resolve(op, algorithm, peers.ranks, tensor.size * ctx.bytes_per_element, options)
    if op != "all_gather":  # an all-gather's blocks are equal by contract; the others can be checked here
        why = size_refusal(op, peers.size, tensor.size)
        if why:
            raise CollectiveError(why)
    if op in ROOTED:
        _root(peers, options)
    if peers.size == 1:
        return copy_of(tensor)
    return (yield from TABLE[(op, name)](ctx, peers, tensor, phase, options))


def all_reduce(ctx, group, tensor, algorithm: str = "ring", phase: str = "all_reduce", **options):
    """Every rank of ``group`` ends with the sum of all the ranks' tensors."""
    return (yield from collective("all_reduce", ctx, group, tensor, algorithm, phase, Options(**options)))


def reduce_scatter(ctx, group, tensor, algorithm: str = "ring", phase: str = "reduce_scatter", **options):
    """The rank at position i ends with chunk i of the sum (the tensor splits into n equal chunks)."""
    return (yield from collective("reduce_scatter", ctx, group, tensor, algorithm, phase, Options(**options)))


def all_gather(ctx, group, block, algorithm: str = "ring", phase: str = "all_gather", **options):
    """Every rank ends with the ranks' (equal-sized) blocks end to end, in group order."""
    return (yield from collective("all_gather", ctx, group, block, algorithm, phase, Options(**options)))


def broadcast(ctx, group, tensor, algorithm: str = "ring", phase: str = "broadcast", **options):
    """Every rank ends with the root's tensor (``root=``, default the group's first rank)."""
    return (yield from collective("broadcast", ctx, group, tensor, algorithm, phase, Options(**options)))


def reduce(ctx, group, tensor, algorithm: str = "ring", phase: str = "reduce", **options):
    """The root ends with the sum; the other ranks end with None."""
    return (yield from collective("reduce", ctx, group, tensor, algorithm, phase, Options(**options)))


def all_to_all(ctx, group, tensor, algorithm: str = "pairwise", phase: str = "all_to_all", **options):
    """The rank at position i ends with block i of every rank's tensor, in group order."""
    return (yield from collective("all_to_all", ctx, group, tensor, algorithm, phase, Options(**options)))
