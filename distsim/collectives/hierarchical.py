"""Hierarchical all-reduce: reduce-scatter inside each node, all-reduce across nodes, all-gather inside.

The two-level scheme of Jia et al., "Highly scalable deep learning training system
with mixed-precision" (2018, arXiv:1807.11205) and of NCCL's tree/ring split between
NVLink and the network (NVIDIA/nccl, src/graph/trees.cc; Horovod's hierarchical
all-reduce): with G ranks on each of N nodes, (1) a ring reduce-scatter over the
node's G ranks leaves the rank with local index j holding chunk j of the node's
sum; (2) the N ranks with local index j (one per node: a "rail") ring-all-reduce
chunk j, all G rails at once, each on its own NIC; (3) a ring all-gather inside the
node. Only p s / G bytes per rank cross the slower inter-node network, in 2(N-1)
steps instead of 2(NG-1).

``nodes`` is the cluster's ranks per node; the group's ranks on each node form its
boxes, which must all have the same size G. With one rank per node (a flat
cluster) this is the inter-node ring alone.
"""

from __future__ import annotations

from distsim.collectives import ring
from distsim.collectives.catalog import node_boxes
from distsim.collectives.peers import Peers, copy_of, label
from distsim.engine import join, split

INTRA_RS, INTER, INTRA_AG = "intra_reduce_scatter", "inter", "intra_all_gather"


def all_reduce(ctx, peers: Peers, tensor, phase: str, nodes):
    parts = node_boxes(peers.ranks, nodes)  # equal sizes: checked by the dispatcher (catalog.refusal)
    me = peers.ranks[peers.index]
    box = next(b for b in parts if me in b)
    local = peers.sub(box)
    rail = peers.sub(tuple(b[local.index] for b in parts))
    chunks = split(copy_of(tensor), local.size)
    yield from ring.reduce_scatter_lanes(ctx, local, [(1, chunks)], label(phase, INTRA_RS))
    mine = split(chunks[local.index], rail.size)
    yield from ring.reduce_scatter_lanes(ctx, rail, [(1, mine)], label(phase, f"{INTER}_{ring.REDUCE_SCATTER}"))
    yield from ring.all_gather_lanes(ctx, rail, [(1, mine)], label(phase, f"{INTER}_{ring.ALL_GATHER}"))
    chunks[local.index] = join(mine)
    yield from ring.all_gather_lanes(ctx, local, [(1, chunks)], label(phase, INTRA_AG))
    return join(chunks)
