"""The communication patterns of the collective algorithms, as the papers define them, and their alpha-beta times.

Derived here from the sources (NCCL's trees.cc pictures, Thakur et al. 2005,
Sanders et al. 2009), never from ``distsim.collectives``: the analyzer checks the
library against these, so they must not share code. Positions are 0..n-1 in the
group; ``analysis/collectives.py`` maps them to ranks.

Time model (Hockney's alpha-beta, one full-duplex port per rank): a message of m
bytes arrives alpha + m/beta after it starts, alpha and beta those of the pair's
route; a rank's messages leave its port one after another; a tree node takes its
children's messages one after another. The recurrences below are the critical paths
of each algorithm under exactly these rules (a max-plus evaluation of its steps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


# -- NCCL's binary tree ------------------------------------------------------------------------

def binary_tree_children(n: int) -> list[tuple[int, ...]]:
    """Children of each label in NCCL's binary tree (src/graph/trees.cc, the picture above ncclGetBtree).

    Label 0 is the root; its one child is the largest power of two below n. Under it
    the labels 1..n-1 form an in-order tree: a label whose lowest set bit is b has
    children label - b/2 and label + b/2, where the right one, if past the end, is the
    nearest label + b/4, label + b/8, ... that exists. Odd labels are leaves.
    """
    children: list[tuple[int, ...]] = [() for _ in range(n)]
    if n > 1:
        children[0] = (1 << ((n - 1).bit_length() - 1),)
    for v in range(2, n, 2):
        half = (v & -v) // 2
        right = half
        while right and v + right >= n:
            right //= 2
        children[v] = (v - half,) + ((v + right,) if right else ())
    return children


def mirrored(children: list[tuple[int, ...]], relabel: Callable[[int], int]) -> list[tuple[int, ...]]:
    """The same tree with every label v renamed relabel(v) (Sanders et al.'s second tree)."""
    moved: list[tuple[int, ...]] = [() for _ in children]
    for v, below in enumerate(children):
        moved[relabel(v)] = tuple(relabel(c) for c in below)
    return moved


def tree_edges(children: list[tuple[int, ...]]) -> list[tuple[int, int]]:
    """(parent, child) pairs of a tree."""
    return [(v, c) for v, below in enumerate(children) for c in below]


def root_of(children: list[tuple[int, ...]]) -> int:
    has_parent = {c for below in children for c in below}
    return next(v for v in range(len(children)) if v not in has_parent)


class Wire(Protocol):
    """What a message costs between two positions: how long it holds the sender's port, how long from its
    start until it has arrived (alpha + b/beta over the pair's route, cut-through), and which ports it
    leaves and enters by (the first and last links of the route: one each per rank on a switch, one per
    peer on a fully connected network)."""

    def hold(self, src: int, dst: int, nbytes: float) -> float: ...
    def reach(self, src: int, dst: int, nbytes: float) -> float: ...
    def port_out(self, src: int, dst: int) -> object: ...
    def port_in(self, src: int, dst: int) -> object: ...
    def last_hop(self, src: int, dst: int, nbytes: float) -> tuple[float, float]:
        """(from the start until the message reaches its last link, how long it holds that link)."""


def into_ports(sends, wire) -> float:
    """When the last of ``sends`` (start, src, dst, bytes) has arrived, where messages that end on the same
    link (a receiver's port) cross it one after another, in the order they reach it."""
    free: dict[object, float] = {}
    last = 0.0
    timed = [(start + wire.last_hop(src, dst, nbytes)[0], start, src, dst, nbytes) for start, src, dst, nbytes in sends]
    for enter, start, src, dst, nbytes in sorted(timed):
        port = wire.port_in(src, dst)
        begin = max(enter, free.get(port, enter))
        free[port] = begin + wire.last_hop(src, dst, nbytes)[1]
        last = max(last, start + wire.reach(src, dst, nbytes) + (begin - enter))
    return last


def tree_reduce_done(children, nbytes: float, wire: Wire) -> float:
    """When the root holds the sum: each node sends its partial sum once its children's are in;
    a parent takes its children's messages one after another, in the order they reach it."""

    def ready(v: int) -> float:
        return into_ports([(ready(c), c, v, nbytes) for c in children[v]], wire)

    return ready(root_of(children))


def tree_broadcast_done(children, nbytes: float, wire: Wire, start: float) -> float:
    """When the last node holds the result: each node sends it to its children in order, one after another."""
    reached, frontier = start, [(root_of(children), start)]
    while frontier:
        v, t = frontier.pop()
        reached = max(reached, t)
        ports: dict[object, float] = {}
        for c in children[v]:
            begin = ports.get(wire.port_out(v, c), t)
            frontier.append((c, begin + wire.reach(v, c, nbytes)))
            ports[wire.port_out(v, c)] = begin + wire.hold(v, c, nbytes)
    return reached


def chain_done(hops: list[int], pieces: list[int], wire: Wire) -> float:
    """Pieces pipelined down a chain of positions: a piece leaves a hop once it has arrived there and the
    hop's port has sent the piece before it (a flow shop; Johnson 1954)."""
    arrived = [0.0] * len(pieces)
    for a, b in zip(hops, hops[1:]):
        port = 0.0
        for k, piece in enumerate(pieces):
            begin = max(arrived[k], port)
            port = begin + wire.hold(a, b, piece)
            arrived[k] = begin + wire.reach(a, b, piece)
    return max(arrived)


# -- rounds of exchanges (rings, butterflies, Bruck, pairwise) ----------------------------------

Round = list[tuple[int, int, float]]  # (sender, receiver, bytes), in each sender's sending order


def rounds_done(ready: list[float], rounds: list[Round], wire: Wire) -> list[float]:
    """Critical path of a round-based algorithm: in each round every sender sends its messages back to back
    from the moment it finished the previous round; a rank finishes a round when all its messages are in.

    Messages that would meet at a receiver's port are not serialised here: where they do
    in the simulation, the trace shows the wait (contention), and the reconciliation says so.
    """
    done = list(ready)
    for messages in rounds:
        nxt, ports = list(done), {}
        for src, dst, nbytes in messages:
            port = wire.port_out(src, dst)
            begin = ports.get(port, done[src])
            ports[port] = begin + wire.hold(src, dst, nbytes)
            nxt[dst] = max(nxt[dst], begin + wire.reach(src, dst, nbytes))
        done = nxt
    return done
