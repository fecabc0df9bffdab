"""The network as the closed forms see it, and the link-load lower bound of any traffic on it.

A :class:`Platform` is a description of the hardware, built by the API from the
scenario's topology before anything runs: the directed links and, for every pair of
ranks, the links of the route between them. Closed forms evaluate alpha and beta per
pair from it (``latency``, ``bandwidth``), so a formula on a two-level cluster or a
user's graph uses the links the messages will really cross, not one default figure.

:func:`link_load_bound` is the bound every strategy gets on every topology: a link of
bandwidth B that must carry W bytes is busy W / B seconds, and it cannot start before
the earliest byte can reach it nor stop mattering before the last byte has travelled
on from it. It needs only the traffic a closed form predicts (bytes per rank pair),
never the trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from distsim.trace import LinkInfo

CUT_THROUGH, STORE_AND_FORWARD, FLOW = "cut_through", "store_and_forward", "flow"
NETWORK_MODELS = (CUT_THROUGH, STORE_AND_FORWARD, FLOW)


@dataclass(frozen=True)
class Platform:
    """Links, and the route (link ids) between any two ranks: ``()`` when they share a node."""

    links: tuple[LinkInfo, ...]
    route: Callable[[int, int], tuple[int, ...]]
    model: str = CUT_THROUGH

    def latency(self, src: int, dst: int) -> float:
        """Alpha of the pair: the sum of its route's latencies (propagation)."""
        return sum(self.links[i].latency for i in self.route(src, dst))

    def bandwidth(self, src: int, dst: int) -> float:
        """Beta of the pair: its route's slowest link (infinite on one node: a local copy)."""
        return min((self.links[i].bandwidth for i in self.route(src, dst)), default=math.inf)

    def per_byte(self, src: int, dst: int) -> float:
        """Seconds per byte on the route when it is idle: 1 / (slowest beta) when pipelined, the sum
        of the hops' 1 / beta when stored and forwarded (0 on one node)."""
        ids = self.route(src, dst)
        if not ids:
            return 0.0
        if self.model == STORE_AND_FORWARD:
            return sum(1.0 / self.links[i].bandwidth for i in ids)
        return 1.0 / self.bandwidth(src, dst)

    def transfer(self, src: int, dst: int, nbytes: float) -> float:
        """Contention-free time of one message from ``src`` to ``dst``.

        Pipelined models (cut-through, flow): alpha + b / (slowest beta), Hockney's
        alpha-beta over the route. Store-and-forward: every hop receives the whole
        message before passing it on, so the hops' serialisations add up.
        """
        ids = self.route(src, dst)
        if not ids:
            return 0.0
        if self.model == STORE_AND_FORWARD:
            return sum(nbytes / self.links[i].bandwidth + self.links[i].latency for i in ids)
        return self.latency(src, dst) + nbytes / self.bandwidth(src, dst)


@dataclass(frozen=True)
class LinkBound:
    """The link-load lower bound on the makespan, and the link that sets it."""

    value: float
    link: int  # id of the binding link (-1 when no traffic crosses the network)
    load: float  # bytes that link must carry
    busy: float  # load / bandwidth


def link_load_bound(traffic: dict[tuple[int, int], float], platform: Platform) -> LinkBound:
    """max over links l of  (earliest a byte can reach l) + W_l / B_l + (least time from l to a receiver).

    W_l is the bytes all routes put on l. The first term is the smallest latency of
    the route prefix before l, the last the smallest latency from l (its own
    included) to the end of a route through it: every byte on l is sent at or after
    time 0, and the last byte to leave l still has to arrive somewhere.
    """
    load: dict[int, float] = {}
    before: dict[int, float] = {}
    after: dict[int, float] = {}
    for (src, dst), nbytes in traffic.items():
        ids = platform.route(src, dst)
        if not ids or nbytes <= 0:
            continue
        latencies = [platform.links[i].latency for i in ids]
        prefix, total = 0.0, sum(latencies)
        for link, lat in zip(ids, latencies):
            load[link] = load.get(link, 0.0) + nbytes
            before[link] = min(before.get(link, math.inf), prefix)
            after[link] = min(after.get(link, math.inf), total - prefix)
            prefix += lat
    best = LinkBound(0.0, -1, 0.0, 0.0)
    for link in sorted(load):
        busy = load[link] / platform.links[link].bandwidth
        value = before[link] + busy + after[link]
        if value > best.value:
            best = LinkBound(value, link, load[link], busy)
    return best
