"""Ring algorithms: reduce-scatter, all-gather and all-reduce round a logical ring; broadcast and
reduce pipelined along it.

Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for clusters of
workstations", JPDC 69(2), 2009: the tensor is cut into n chunks; in each of n-1
steps every rank sends one chunk to its right neighbour and folds in (or keeps) the
one from its left. All-reduce is reduce-scatter then all-gather, 2(n-1) steps of
p/n. NCCL runs the same ring (NVIDIA/nccl, src/device/all_reduce.h, runRing) and
pipelines broadcast and reduce along it chunk by chunk (src/device/broadcast.h);
here a chain of n chunks.

The steps are written for *lanes*: (direction, chunks) pairs that advance together,
one message per lane per step. A ring is one lane; multi-ring (``multi_ring.py``)
runs one lane per channel, alternate channels going round in opposite directions.
"""

from __future__ import annotations

from distsim.collectives.peers import Peers, copy_of, label
from distsim.engine import join, split

REDUCE_SCATTER, ALL_GATHER, BROADCAST, REDUCE = "reduce_scatter", "all_gather", "broadcast", "reduce"


def reduce_scatter_lanes(ctx, peers: Peers, lanes, tag: str):
    """After n-1 steps, ``chunks[i]`` of every lane holds its sum over the group (i: this rank's position).

    At step s a lane going in direction d sends chunk i - d(s+1) to position i + d and
    adds what comes from i - d into chunk i - d(s+2): the chunk it will pass on next.
    """
    n, i = peers.size, peers.index
    if len(lanes) == 1:  # one ring: MPI_Sendrecv per step, the engine's fastest path
        (direction, chunks), right, left = lanes[0], peers.rank(i + lanes[0][0]), peers.rank(i - lanes[0][0])
        for step in range(n - 1):
            out, into = (i - direction * (step + 1)) % n, (i - direction * (step + 2)) % n
            chunks[into] += yield ctx.sendrecv(right, chunks[out], left, tag, step)
        return
    for step in range(n - 1):
        for direction, chunks in lanes:
            ctx.send(peers.rank(i + direction), chunks[(i - direction * (step + 1)) % n], tag, step)
        for direction, chunks in lanes:
            chunks[(i - direction * (step + 2)) % n] += yield ctx.recv(peers.rank(i - direction))


def all_gather_lanes(ctx, peers: Peers, lanes, tag: str):
    """Starting with ``chunks[i]`` only, every lane ends with all n chunks after n-1 steps."""
    n, i = peers.size, peers.index
    if len(lanes) == 1:
        (direction, chunks), right, left = lanes[0], peers.rank(i + lanes[0][0]), peers.rank(i - lanes[0][0])
        for step in range(n - 1):
            chunks[(i - direction * (step + 1)) % n] = yield ctx.sendrecv(right, chunks[(i - direction * step) % n], left, tag, step)
        return
    for step in range(n - 1):
        for direction, chunks in lanes:
            ctx.send(peers.rank(i + direction), chunks[(i - direction * step) % n], tag, step)
        for direction, chunks in lanes:
            chunks[(i - direction * (step + 1)) % n] = yield ctx.recv(peers.rank(i - direction))


def all_reduce(ctx, peers: Peers, tensor, phase: str):
    chunks = split(copy_of(tensor), peers.size)
    yield from reduce_scatter_lanes(ctx, peers, [(1, chunks)], label(phase, REDUCE_SCATTER))
    yield from all_gather_lanes(ctx, peers, [(1, chunks)], label(phase, ALL_GATHER))
    return join(chunks)


def reduce_scatter(ctx, peers: Peers, tensor, phase: str):
    chunks = split(copy_of(tensor), peers.size)
    yield from reduce_scatter_lanes(ctx, peers, [(1, chunks)], label(phase, REDUCE_SCATTER))
    return chunks[peers.index]


def all_gather(ctx, peers: Peers, block, phase: str):
    chunks = [None] * peers.size
    chunks[peers.index] = block
    yield from all_gather_lanes(ctx, peers, [(1, chunks)], label(phase, ALL_GATHER))
    return join(chunks)


def broadcast(ctx, peers: Peers, tensor, phase: str, root: int):
    """A chain from the root round the ring, n chunks in flight: each rank forwards a chunk as it arrives."""
    n = peers.size
    hop = (peers.index - root) % n
    after = peers.rank(peers.index + 1) if hop < n - 1 else None
    tag = label(phase, BROADCAST)
    if hop == 0:
        for k, piece in enumerate(split(tensor, n)):
            ctx.send(after, piece, tag, k)
        return copy_of(tensor)
    pieces = []
    for k in range(n):
        piece = yield ctx.recv(peers.rank(peers.index - 1))
        if after is not None:
            ctx.send(after, piece, tag, k)
        pieces.append(piece)
    return join(pieces)


def reduce(ctx, peers: Peers, tensor, phase: str, root: int):
    """A chain round the ring that ends at the root: each rank adds its chunk to the one arriving and passes it on."""
    n = peers.size
    hop = (peers.index - root - 1) % n  # hop 0 starts the chain, hop n-1 is the root
    after = peers.rank(peers.index + 1)
    tag = label(phase, REDUCE)
    pieces = split(copy_of(tensor), n)
    for k in range(n):
        if hop > 0:
            pieces[k] += yield ctx.recv(peers.rank(peers.index - 1))
        if hop < n - 1:
            ctx.send(after, pieces[k], tag, k)
    return join(pieces) if hop == n - 1 else None
