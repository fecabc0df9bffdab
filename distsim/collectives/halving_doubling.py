"""Recursive halving then doubling (Rabenseifner's algorithm): a reduce-scatter by recursive halving,
then an all-gather by recursive doubling.

Rabenseifner, "Optimization of collective reduction operations", ICCS 2004;
Thakur, Rabenseifner & Gropp, IJHPCA 2005 (MPICH's long-message all-reduce). With
n' = 2^L ranks and n' chunks: in round k of the halving a rank exchanges half of the
range it still owns with the rank at distance n'/2^(k+1) and keeps the half that
holds its own chunk; after L rounds it owns its chunk, fully reduced. The doubling
retraces the rounds backwards, each rank sending the range it has. 2L rounds, and
the bandwidth-optimal 2 (n'-1)/n' p s / beta. All-reduce folds other group sizes to
a power of two (``fold.py``); reduce-scatter needs a power-of-two group.
"""

from __future__ import annotations

from distsim.collectives.fold import Fold
from distsim.collectives.peers import Peers, add_into, copy_of, joined, label, place
from distsim.engine import join, split

HALVING, DOUBLING = "recursive_halving", "recursive_doubling"


def halve(ctx, chunks: list, index: int, size: int, rank_of, tag: str):
    """Recursive halving over ``size`` (a power of two) ranks; afterwards chunks[index] is the group's sum."""
    lo, hi, distance, step = 0, size, size // 2, 0
    while distance:
        mid, partner = (lo + hi) // 2, rank_of(index ^ distance)
        keep, give = ((mid, hi), (lo, mid)) if index & distance else ((lo, mid), (mid, hi))
        incoming = yield ctx.sendrecv(partner, joined(chunks[give[0]:give[1]]), partner, tag, step)
        add_into(chunks, keep, incoming)
        lo, hi = keep
        distance, step = distance // 2, step + 1


def double(ctx, chunks: list, index: int, size: int, rank_of, tag: str):
    """Recursive doubling of owned ranges, the halving's rounds backwards; afterwards every chunk is here."""
    lo, hi, distance, step = index, index + 1, 1, 0
    while distance < size:
        partner, width = rank_of(index ^ distance), hi - lo
        theirs = (lo - width, lo) if index & distance else (hi, hi + width)
        incoming = yield ctx.sendrecv(partner, joined(chunks[lo:hi]), partner, tag, step)
        place(chunks, theirs, incoming)
        lo, hi = min(lo, theirs[0]), max(hi, theirs[1])
        distance, step = distance * 2, step + 1


def all_reduce(ctx, peers: Peers, tensor, phase: str):
    fold = Fold(peers)
    buffer = yield from fold.fold_in(ctx, copy_of(tensor), phase)
    if buffer is not None:
        chunks = split(buffer, fold.active_size)
        a, size = fold.active_index, fold.active_size
        yield from halve(ctx, chunks, a, size, fold.active_rank, label(phase, HALVING))
        yield from double(ctx, chunks, a, size, fold.active_rank, label(phase, DOUBLING))
        buffer = join(chunks)
    return (yield from fold.unfold(ctx, buffer, phase))


def reduce_scatter(ctx, peers: Peers, tensor, phase: str):
    """Power-of-two groups only: rank i ends with chunk i."""
    chunks = split(copy_of(tensor), peers.size)
    yield from halve(ctx, chunks, peers.index, peers.size, peers.rank, label(phase, HALVING))
    return chunks[peers.index]
