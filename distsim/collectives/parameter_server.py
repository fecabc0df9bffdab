"""Sharded parameter server all-reduce: k of the group's ranks each own one shard of the tensor.

Li et al., "Scaling distributed machine learning with the parameter server", OSDI
2014 (servers holding key ranges), in the co-located form of BytePS (Jiang et al.,
OSDI 2020): server j is the rank at position floor(j n / k) and owns shard j of k.
Every rank pushes each shard to its server, starting with the next server after
itself (so that pushes spread over the servers); a server adds the n-1 pushes to its
own shard and sends the sum to every other rank, starting with the rank after
itself. Each server's link carries (n-1) p s / k in and out: with k = 1 it is the
bottleneck, 2 alpha + 2 (n-1) p s / beta; with k = n this is a direct reduce-scatter
and all-gather, 2 alpha + 2 (n-1) p s / (n beta).
"""

from __future__ import annotations

from distsim.collectives.peers import Peers, copy_of, label
from distsim.engine import join, split

PUSH, PULL = "push", "pull"


def server_positions(n: int, servers: int) -> list[int]:
    """Positions of the k servers, spread evenly over the group."""
    return [j * n // servers for j in range(servers)]


def all_reduce(ctx, peers: Peers, tensor, phase: str, servers: int):
    n, i = peers.size, peers.index
    where = server_positions(n, servers)
    shards = split(copy_of(tensor), servers)
    ahead = sorted(range(servers), key=lambda j: (where[j] - i - 1) % n)  # the next server after me first
    for j in ahead:
        if where[j] != i:
            ctx.send(peers.rank(where[j]), shards[j], label(phase, PUSH), j)
    if i in where:
        j = where.index(i)
        for k in range(1, n):
            shards[j] += yield ctx.recv(peers.rank(i + k))
        for k in range(1, n):
            ctx.send(peers.rank(i + k), shards[j], label(phase, PULL), j)
    for j in ahead:
        if where[j] != i:
            shards[j] = yield ctx.recv(peers.rank(where[j]))
    return join(shards)
