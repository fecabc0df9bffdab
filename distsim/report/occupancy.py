"""Who was busy when: the spans a trace implies, as numpy arrays, and busy time per time bin.

A message occupies each link of its route for its bytes over that link's bandwidth,
starting when its head got there (``hop_spans``: the model of docs/model.md); the
sender's row shows its first link's occupancy. Ops occupy their rank from ``t_start``
to ``t_end``.

Everything is vectorised: a two-million-message trace becomes four million link
spans in a few numpy calls, and busy time per bin comes from a prefix-sum formula
rather than from drawing each span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distsim.trace import Trace


@dataclass(frozen=True)
class Spans:
    """Intervals on rows of a chart: ``row[i]`` is busy from ``start[i]`` to ``end[i]`` with ``category[i]``."""

    row: np.ndarray
    start: np.ndarray
    end: np.ndarray
    category: np.ndarray  # index into the caller's category names

    def __len__(self) -> int:
        return len(self.row)

    @staticmethod
    def concat(parts: list["Spans"]) -> "Spans":
        return Spans(*(np.concatenate([getattr(p, f) for p in parts]) if parts else np.zeros(0)
                       for f in ("row", "start", "end", "category")))


def message_routes(trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    """For each message: its route as a row of link ids padded with -1, and the route's bandwidth."""
    m = trace.messages
    if not len(m):
        return np.zeros((0, 1), dtype=np.int64), np.zeros(0)
    place = np.asarray(trace.placement, dtype=np.int64)
    n_nodes = len(trace.nodes)
    pair = place[m["src"]] * n_nodes + place[m["dst"]]
    unique, inverse = np.unique(pair, return_inverse=True)
    routes = [trace.routes[divmod(int(code), n_nodes)] for code in unique]
    hops = max(len(r) for r in routes)
    table = np.full((len(routes), hops), -1, dtype=np.int64)
    bandwidth = np.empty(len(routes))
    for k, route in enumerate(routes):
        table[k, : len(route)] = route
        bandwidth[k] = min(trace.links[i].bandwidth for i in route)
    return table[inverse], bandwidth[inverse]


def hop_spans(trace: Trace) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(message, link, start, end)`` for every hop of every message: when each link carried it.

    Link models (docs/model.md): a message occupies a link for its bytes over that link's
    bandwidth. Where it waited on the way, the engine recorded each hop's start
    (``trace.hops``); elsewhere it crossed link k as soon as its head arrived: the first
    hop at ``t_start`` plus the latencies before k (cut-through), or plus the whole
    serialisations and latencies before k (store-and-forward). Flow model: a flow is on
    every link of its route from when its latency has passed until it arrives, sharing
    each link with the others there (its bytes spread over that time).
    """
    m = trace.messages
    if not len(m):
        empty = np.zeros(0)
        return empty.astype(np.int64), empty.astype(np.int64), empty, empty
    routes, _ = message_routes(trace)
    bandwidth = np.array([link.bandwidth for link in trace.links] + [np.inf])
    latency = np.array([link.latency for link in trace.links] + [0.0])
    nbytes = m["nbytes"].astype(np.float64)
    if trace.network == "flow":
        route_latency = latency[routes].sum(axis=1)
        start = np.repeat((m["t_send"] + route_latency)[:, None], routes.shape[1], axis=1)
        end = np.repeat(m["t_arrive"][:, None], routes.shape[1], axis=1)
    else:
        step = latency[routes] + (nbytes[:, None] / bandwidth[routes] if trace.network == "store_and_forward" else 0.0)
        start = m["t_start"][:, None] + np.concatenate([np.zeros((len(m), 1)), np.cumsum(step, axis=1)[:, :-1]], axis=1)
        h = trace.hops
        if len(h):
            start[h["message"], h["hop"]] = h["t_start"]
        end = start + nbytes[:, None] / bandwidth[routes]
    message, hop = np.nonzero(routes >= 0)
    return message, routes[message, hop], start[message, hop], end[message, hop]


def transfer_end(trace: Trace) -> np.ndarray:
    """When each message's last byte left its sender's link (flows: when it arrived)."""
    m = trace.messages
    if not len(m):
        return np.zeros(0)
    if trace.network == "flow":
        return m["t_arrive"].copy()
    routes, _ = message_routes(trace)
    first = np.array([link.bandwidth for link in trace.links])[routes[:, 0]]
    return m["t_start"] + m["nbytes"] / first


def link_spans(trace: Trace, link_row: np.ndarray) -> Spans:
    """One span per (message, link of its route); ``link_row[link id]`` is the link's chart row (-1: hidden)."""
    message, link, start, end = hop_spans(trace)
    rows = link_row[link]
    keep = rows >= 0
    return Spans(rows[keep], start[keep], end[keep], trace.messages["phase"][message[keep]].astype(np.int64)
                 if len(message) else np.zeros(0, dtype=np.int64))


def sender_spans(trace: Trace, rank_row: np.ndarray) -> Spans:
    """Each message's transfer on its sender's row (its first link's occupancy)."""
    m = trace.messages
    if not len(m):
        return Spans.concat([])
    return Spans(rank_row[m["src"]], m["t_start"], transfer_end(trace), m["phase"].astype(np.int64))


def op_spans(trace: Trace, rank_row: np.ndarray) -> Spans:
    o = trace.ops
    if not len(o):
        return Spans.concat([])
    return Spans(rank_row[o["rank"]], o["t_start"], o["t_end"], o["kind"].astype(np.int64))


def busy_per_bin(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Busy time of a set of intervals within each bin ``[edges[i], edges[i+1])``.

    With B(t) = sum over intervals of clamp(t - start, 0, end - start), the busy
    time in a bin is B(right) - B(left), and B(t) = sum_{start<t} (t - start) -
    sum_{end<t} (t - end): two sorted arrays and their prefix sums. Overlapping
    intervals add up (a rank busy twice at once counts twice).
    """
    if not len(start):
        return np.zeros(len(edges) - 1)
    s, e = np.sort(start), np.sort(end)
    cs, ce = np.concatenate([[0.0], np.cumsum(s)]), np.concatenate([[0.0], np.cumsum(e)])
    ks, ke = np.searchsorted(s, edges, side="left"), np.searchsorted(e, edges, side="left")
    accumulated = (ks * edges - cs[ks]) - (ke * edges - ce[ke])
    return np.diff(accumulated)


def busy_grid(spans: Spans, rows: int, categories: int, edges: np.ndarray) -> np.ndarray:
    """Busy time per (row, category, bin): the aggregate drawn when spans are too many to draw."""
    grid = np.zeros((rows, categories, len(edges) - 1))
    if not len(spans):
        return grid
    group = spans.row * categories + spans.category
    order = np.argsort(group, kind="stable")
    group_sorted = group[order]
    bounds = np.flatnonzero(np.diff(group_sorted)) + 1
    for chunk in np.split(order, bounds):
        g = int(group[chunk[0]])
        grid[g // categories, g % categories] = busy_per_bin(spans.start[chunk], spans.end[chunk], edges)
    return grid
