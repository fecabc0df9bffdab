"""What the links did: bytes, busy time, queueing, and which one was the bottleneck.

Everything here is computed from a trace alone. A message's wait for busy links
is ``t_start - t_send``; the trace says which link held it up (``blocked_by``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distsim.trace import Trace


@dataclass(frozen=True)
class LinkLoad:
    name: str
    bytes: float
    busy_s: float
    utilization: float  # busy time / makespan
    wait_caused_s: float  # total time messages waited because this link was busy


def link_loads(trace: Trace) -> list[LinkLoad]:
    """Load of every link that carried at least one message, busiest first."""
    m = trace.messages
    carried = trace.link_bytes()
    busy = trace.link_busy_time()
    waits = np.zeros(len(trace.links) + 1)
    if len(m):
        wait = m["t_start"] - m["t_send"]
        np.add.at(waits, m["blocked_by"], wait)  # index -1 (not blocked) lands in the spare last slot
    makespan = trace.makespan or 1.0
    loads = [
        LinkLoad(link.name, float(carried[i]), float(busy[i]), float(busy[i] / makespan), float(waits[i]))
        for i, link in enumerate(trace.links)
        if carried[i] > 0
    ]
    return sorted(loads, key=lambda load: (-load.busy_s, load.name))


def total_wait(trace: Trace) -> float:
    m = trace.messages
    return float(np.sum(m["t_start"] - m["t_send"])) if len(m) else 0.0


def route_stats(trace: Trace) -> dict[tuple[int, int], tuple[int, float, float]]:
    """(hops, bandwidth, latency) of every route messages took, by node pair."""
    stats = {}
    for key, ids in trace.routes.items():
        links = [trace.links[i] for i in ids]
        stats[key] = (len(links), min(l.bandwidth for l in links), sum(l.latency for l in links))
    return stats
