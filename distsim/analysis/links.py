"""What the links did: bytes, busy time, delays, and which link held messages up.

Everything here is computed from a trace alone. A message's **delay** is how much
later it arrived than it would have on an idle network: ``t_arrive - t_send`` minus
its route's contention-free time (alpha + b / slowest beta when pipelined, the sum of
the hops' b / beta when stored and forwarded). The network model names, for each
message, the link that held it up the longest (``blocked_by``): the delay is charged
to that link. A link's busy time is what it transmitted: its bytes over its own
bandwidth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distsim.trace import CHUNK, Trace

# A delay below this fraction of the message's own time is rounding, not waiting.
DELAY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LinkLoad:
    name: str
    bytes: float
    busy_s: float
    utilization: float  # busy time / makespan
    wait_caused_s: float  # total delay of the messages this link held up


@dataclass(frozen=True)
class Delays:
    total_s: float  # sum over messages of their delays
    by_link: np.ndarray  # delay charged to each link id (last slot: messages with no link named)
    delayed: int  # messages that arrived later than on an idle network


def link_loads(trace: Trace, delays: Delays | None = None) -> list[LinkLoad]:
    """Load of every link that carried at least one message, busiest first."""
    carried = trace.link_bytes()
    busy = trace.link_busy_time()
    waits = (delays or message_delays(trace)).by_link
    makespan = trace.makespan or 1.0
    loads = [
        LinkLoad(link.name, float(carried[i]), float(busy[i]), float(busy[i] / makespan), float(waits[i]))
        for i, link in enumerate(trace.links)
        if carried[i] > 0
    ]
    return sorted(loads, key=lambda load: (-load.busy_s, load.name))


def message_delays(trace: Trace) -> Delays:
    """Each message's delay over its contention-free time, summed, and charged to the link named."""
    m = trace.messages
    by_link = np.zeros(len(trace.links) + 1)
    if not len(m):
        return Delays(0.0, by_link, 0)
    nodes = len(trace.nodes)
    codes = sorted(a * nodes + b for a, b in trace.routes)
    latency, per_byte = _route_costs(trace, codes)
    codes_array = np.array(codes, dtype=np.int64)
    place = np.asarray(trace.placement, dtype=np.int64)
    delayed = 0
    for part in m.slices(("src", "dst", "nbytes", "t_send", "t_arrive", "blocked_by"), CHUNK):
        route = np.searchsorted(codes_array, place[part["src"]] * nodes + place[part["dst"]])
        free = latency[route] + part["nbytes"] * per_byte[route]
        delay = part["t_arrive"] - part["t_send"] - free
        delay[delay <= DELAY_TOLERANCE * free] = 0.0
        delayed += int(np.count_nonzero(delay))
        by_link += np.bincount(part["blocked_by"] % (len(trace.links) + 1), weights=delay, minlength=len(by_link))
    return Delays(float(by_link.sum()), by_link, delayed)


def _route_costs(trace: Trace, codes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per route (in ``codes`` order): its latency, and seconds per byte on an idle network."""
    nodes = len(trace.nodes)
    latency, per_byte = np.empty(len(codes)), np.empty(len(codes))
    for k, code in enumerate(codes):
        links = [trace.links[i] for i in trace.routes[divmod(code, nodes)]]
        latency[k] = sum(link.latency for link in links)
        if trace.network == "store_and_forward":
            per_byte[k] = sum(1.0 / link.bandwidth for link in links)
        else:
            per_byte[k] = 1.0 / min(link.bandwidth for link in links)
    return latency, per_byte


def route_stats(trace: Trace) -> dict[tuple[int, int], tuple[int, float, float]]:
    """(hops, bandwidth, latency) of every route messages took, by node pair."""
    stats = {}
    for key, ids in trace.routes.items():
        links = [trace.links[i] for i in ids]
        stats[key] = (len(links), min(l.bandwidth for l in links), sum(l.latency for l in links))
    return stats
