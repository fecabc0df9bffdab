"""Multi-ring (NCCL's channels): the tensor split over c rings that run at once.

NCCL splits every collective over several *channels*, each a ring with its own
connections, so that c rings together fill several NICs or NVLinks (NVIDIA/nccl,
src/graph/rings.cc and src/enqueue.cc; Jeaugey, "Massively scale your deep learning
training with NCCL 2.4", NVIDIA blog 2019). Here channel k carries sub-chunk k of
every one of the n chunks, so the result is the same chunk-for-chunk as one ring's.
Even channels go right round the ring, odd ones left: on one NIC per rank the c
messages of a step share the rank's link and the time equals one ring's; where the
two directions of a cable are separate links (a physical ring), the opposite
channels use both and the bandwidth term halves.

Each step sends one message per channel, all before any is received, so the
channels advance in lock step (``ring.py``'s lanes).
"""

from __future__ import annotations

from distsim.collectives import ring
from distsim.collectives.peers import Peers, copy_of, label
from distsim.engine import join, split


def _lanes(chunks: list, channels: int) -> list:
    """One (direction, sub-chunks) lane per channel; lane k holds sub-chunk k of every chunk."""
    pieces = [split(chunk, channels) if chunk is not None else [None] * channels for chunk in chunks]
    return [(1 if k % 2 == 0 else -1, [piece[k] for piece in pieces]) for k in range(channels)]


def _chunk(lanes: list, position: int):
    return join([chunks[position] for _, chunks in lanes])


def all_reduce(ctx, peers: Peers, tensor, phase: str, channels: int):
    lanes = _lanes(split(copy_of(tensor), peers.size), channels)
    yield from ring.reduce_scatter_lanes(ctx, peers, lanes, label(phase, ring.REDUCE_SCATTER))
    yield from ring.all_gather_lanes(ctx, peers, lanes, label(phase, ring.ALL_GATHER))
    return join([_chunk(lanes, j) for j in range(peers.size)])


def reduce_scatter(ctx, peers: Peers, tensor, phase: str, channels: int):
    lanes = _lanes(split(copy_of(tensor), peers.size), channels)
    yield from ring.reduce_scatter_lanes(ctx, peers, lanes, label(phase, ring.REDUCE_SCATTER))
    return _chunk(lanes, peers.index)


def all_gather(ctx, peers: Peers, block, phase: str, channels: int):
    chunks = [None] * peers.size
    chunks[peers.index] = block
    lanes = _lanes(chunks, channels)
    yield from ring.all_gather_lanes(ctx, peers, lanes, label(phase, ring.ALL_GATHER))
    return join([_chunk(lanes, j) for j in range(peers.size)])
