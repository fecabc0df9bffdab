"""Binary tree: reduce up NCCL's binary tree, broadcast down it (all-reduce is both).

The tree is NCCL's (NVIDIA/nccl, src/graph/trees.cc, ncclGetBtree): on labels
0..n-1, label 0 is the root with one child (the largest power of two below n);
below it an in-order binary tree in which the odd labels are the leaves and label v,
with lowest set bit b, has children v - b/2 and v + b/2 (or the nearest v + b/4,
v + b/8, ... that exists). Labels are positions counted from the root, so any rank
of any group can be the root. Whole tensors travel (no pipelining): a node sends
once its children's contributions are in, and broadcasts to its children in order
(down0, then down1), one after the other on its link.

Costs in the alpha-beta model, for n a power of two and depth L = log2 n: reduce
and broadcast each take L alpha + (2L - 1) p s / beta (a parent's two children share
its link); see docs/collectives.md.
"""

from __future__ import annotations

from distsim.collectives.peers import Peers, copy_of, label

REDUCE, BROADCAST = "tree_reduce", "tree_broadcast"


def btree(n: int, v: int) -> tuple[int, tuple[int, ...]]:
    """(parent, children) of label ``v`` in NCCL's binary tree on n labels; parent -1 at the root."""
    bit = 1
    while bit < n and not bit & v:
        bit <<= 1
    if v == 0:
        return -1, ((bit >> 1,) if n > 1 else ())
    up = (v ^ bit) | (bit << 1)
    if up >= n:
        up = v ^ bit
    low = bit >> 1
    if not low:
        return up, ()
    step = low
    while step and v + step >= n:
        step >>= 1
    return up, (v - low,) + ((v + step,) if step else ())


class Tree:
    """One binary tree over a group: a rank's parent and children, as ranks."""

    def __init__(self, peers: Peers, relabel, unlabel):
        self.peers = peers
        parent, children = btree(peers.size, relabel(peers.index))
        self.parent = peers.rank(unlabel(parent)) if parent >= 0 else None
        self.children = tuple(peers.rank(unlabel(c)) for c in children)

    @classmethod
    def rooted(cls, peers: Peers, root: int) -> "Tree":
        """NCCL's tree with label 0 at position ``root``."""
        n = peers.size
        return cls(peers, lambda i: (i - root) % n, lambda v: (v + root) % n)

    @property
    def is_leaf(self) -> bool:
        return not self.children


def reduce_up(ctx, tree: Tree, tensor, tag: str):
    """Add the children's partial sums into ``tensor`` (in place) and pass the sum to the parent."""
    for child in tree.children:
        tensor += yield ctx.recv(child)
    if tree.parent is not None:
        ctx.send(tree.parent, tensor, tag)
    return tensor


def broadcast_down(ctx, tree: Tree, tensor, tag: str):
    """Take the result from the parent (unless root) and send it to each child in turn."""
    if tree.parent is not None:
        tensor = yield ctx.recv(tree.parent)
    for child in tree.children:
        ctx.send(child, tensor, tag)
    return tensor


def reduce(ctx, peers: Peers, tensor, phase: str, root: int):
    tree = Tree.rooted(peers, root)
    total = yield from reduce_up(ctx, tree, copy_of(tensor), label(phase, REDUCE))
    return total if tree.parent is None else None


def broadcast(ctx, peers: Peers, tensor, phase: str, root: int):
    tree = Tree.rooted(peers, root)
    result = yield from broadcast_down(ctx, tree, tensor, label(phase, BROADCAST))
    return copy_of(result) if tree.parent is None else result


def all_reduce(ctx, peers: Peers, tensor, phase: str):
    tree = Tree.rooted(peers, 0)
    total = yield from reduce_up(ctx, tree, copy_of(tensor), label(phase, REDUCE))
    return (yield from broadcast_down(ctx, tree, total, label(phase, BROADCAST)))
