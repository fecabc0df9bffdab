"""Bruck's algorithms: all-to-all ("index") and all-gather ("concatenation") in ceil(log2 n) rounds, any n.

Bruck, Ho, Kipnis, Upfal & Weathersby, "Efficient algorithms for all-to-all
communications in multiport message-passing systems", IEEE TPDS 8(11), 1997; MPICH's
short-message all-to-all (Thakur, Rabenseifner & Gropp, IJHPCA 2005).

All-to-all: a rank rotates its n blocks so that position q holds the block for rank
i+q; in round k it sends every block whose position has bit k set to rank i + 2^k
(a block for rank i+q travels q in binary hops); a final inverse rotation puts the
block from rank s at position s. Fewer messages than pairwise exchange (log2 n
instead of n-1) for about (n/2) log2 n blocks sent instead of n-1: it wins for
small blocks.

All-gather: in round k a rank sends the first min(2^k, n-2^k) blocks it holds to rank
i - 2^k and appends what rank i + 2^k sends it; then rotates the blocks into group order.
"""

from __future__ import annotations

from distsim.collectives.peers import Peers, copy_of, cut, equal_blocks, joined, label
from distsim.engine import join

INDEX, CONCATENATION = "bruck_index", "bruck_concatenation"


def all_to_all(ctx, peers: Peers, tensor, phase: str):
    n, i = peers.size, peers.index
    size = equal_blocks(tensor, n, "all_to_all")
    blocks = cut(copy_of(tensor), [size] * n)
    held = [blocks[(i + q) % n] for q in range(n)]  # position q: the block for rank i + q
    distance, step = 1, 0
    while distance < n:
        moving = [q for q in range(n) if q & distance]
        incoming = yield ctx.sendrecv(peers.rank(i + distance), joined([held[q] for q in moving]),
                                      peers.rank(i - distance), label(phase, INDEX), step)
        for q, block in zip(moving, cut(incoming, [size] * len(moving))):
            held[q] = block
        distance, step = distance * 2, step + 1
    return join([held[(i - s) % n] for s in range(n)])  # the block from rank s sits at position i - s


def all_gather(ctx, peers: Peers, block, phase: str):
    n, i = peers.size, peers.index
    held, distance, step = [block], 1, 0
    while distance < n:
        count = min(distance, n - distance)
        incoming = yield ctx.sendrecv(peers.rank(i - distance), joined(held[:count]),
                                      peers.rank(i + distance), label(phase, CONCATENATION), step)
        held += cut(incoming, [block.size] * count)
        distance, step = distance * 2, step + 1
    return join(held[n - i:] + held[:n - i])  # held[q] is the block of rank i + q
