"""Double binary tree all-reduce: half the tensor on each of two complementary binary trees.

Sanders, Speck & Träff, "Two-tree algorithms for full bandwidth broadcast, reduction
and scan", Parallel Computing 35(12), 2009, as NCCL builds them (NVIDIA/nccl,
src/graph/trees.cc, ncclGetDtree): tree A is NCCL's binary tree (``tree.py``); tree
B is its mirror image (label n-1-i) when n is even, or A shifted by one rank when n
is odd. A's leaves are interior in B and vice versa (for odd n, rank 0 is interior
in both), so both trees' links are busy at once and each carries half the bytes.

One rank program serves both trees without letting one wait on the other: first it
sends its half up every tree where it is a leaf; then, for the trees where it is
interior (B before A), it gathers its children and passes the sum up; then it
passes each tree's result down. Two messages between the same two ranks are always
sent and received in this same order, so the per-pair FIFO matches them.
"""

from __future__ import annotations

from distsim.collectives.peers import Peers, copy_of, label
from distsim.collectives.tree import BROADCAST, REDUCE, Tree, broadcast_down, reduce_up
from distsim.engine import join, split


def trees(peers: Peers) -> tuple[Tree, Tree]:
    """Tree A (NCCL's binary tree) and tree B (mirrored for even n, shifted by one for odd n)."""
    n = peers.size
    a = Tree(peers, lambda i: i, lambda v: v)
    if n % 2 == 0:
        b = Tree(peers, lambda i: n - 1 - i, lambda v: n - 1 - v)
    else:
        b = Tree(peers, lambda i: (i - 1) % n, lambda v: (v + 1) % n)
    return a, b


def all_reduce(ctx, peers: Peers, tensor, phase: str):
    halves = split(copy_of(tensor), 2)
    both = trees(peers)
    up, down = label(phase, REDUCE), label(phase, BROADCAST)
    for tree, half in zip(both, halves):
        if tree.is_leaf:
            ctx.send(tree.parent, half, up)
    order = [1, 0]  # interior trees: B, then A (see the module docstring)
    for k in order:
        if not both[k].is_leaf:
            halves[k] = yield from reduce_up(ctx, both[k], halves[k], up)
    for k in (0, 1):
        if not both[k].is_leaf:
            halves[k] = yield from broadcast_down(ctx, both[k], halves[k], down)
    for k in (0, 1):
        if both[k].is_leaf:
            halves[k] = yield ctx.recv(both[k].parent)
    return join(halves)
