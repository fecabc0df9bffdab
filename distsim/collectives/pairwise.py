"""Pairwise exchange all-to-all: n-1 steps; at step k every rank sends to rank i+k and receives from rank i-k.

Thakur, Rabenseifner & Gropp, IJHPCA 2005 (MPICH's long-message all-to-all). Within a
step no two ranks send to the same receiver, so on a non-blocking switch nothing
queues: (n-1) (alpha + p s / (n beta)), the fewest bytes any all-to-all can send, at
the price of n-1 latencies (Bruck's algorithm pays log2 n).
"""

from __future__ import annotations

from distsim.collectives.peers import Peers, copy_of, cut, equal_blocks, label
from distsim.engine import join

EXCHANGE = "pairwise"


def all_to_all(ctx, peers: Peers, tensor, phase: str):
    n, i = peers.size, peers.index
    blocks = cut(copy_of(tensor), [equal_blocks(tensor, n, "all_to_all")] * n)
    received = list(blocks)  # received[s]: the block from rank s (our own stays)
    for k in range(1, n):
        received[(i - k) % n] = yield ctx.sendrecv(peers.rank(i + k), blocks[(i + k) % n],
                                                   peers.rank(i - k), label(phase, EXCHANGE), k - 1)
    return join(received)
