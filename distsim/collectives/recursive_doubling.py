"""Recursive doubling: log2 n rounds, partners at distance 1, 2, 4, ...; each round doubles what a rank holds.

Thakur, Rabenseifner & Gropp, IJHPCA 2005 (MPICH's short-message all-reduce and
all-gather). All-reduce: each round a rank exchanges its whole vector with the rank
at distance 2^k and adds: log2 n (alpha + p s / beta); groups of other sizes are
folded to a power of two first (``fold.py``). All-gather: each round a rank sends
everything it has gathered so far, (n-1)/n p s / beta in log2 n rounds; it needs a
power-of-two group (Bruck's all-gather handles any size).
"""

from __future__ import annotations

from distsim.collectives.fold import Fold
from distsim.collectives.peers import Peers, copy_of, label
from distsim.engine import join

EXCHANGE = "recursive_doubling"


def all_reduce(ctx, peers: Peers, tensor, phase: str):
    fold = Fold(peers)
    buffer = yield from fold.fold_in(ctx, copy_of(tensor), phase)
    if buffer is not None:
        a, distance, step = fold.active_index, 1, 0
        while distance < fold.active_size:
            partner = fold.active_rank(a ^ distance)
            buffer += yield ctx.sendrecv(partner, buffer, partner, label(phase, EXCHANGE), step)
            distance, step = distance * 2, step + 1
    return (yield from fold.unfold(ctx, buffer, phase))


def all_gather(ctx, peers: Peers, block, phase: str):
    """Power-of-two groups only: the range a rank holds doubles each round, in group order."""
    i, distance, step, held = peers.index, 1, 0, block
    while distance < peers.size:
        partner = peers.rank(i ^ distance)
        theirs = yield ctx.sendrecv(partner, held, partner, label(phase, EXCHANGE), step)
        held = join([theirs, held] if i & distance else [held, theirs])
        distance, step = distance * 2, step + 1
    return copy_of(held) if held is block else held
