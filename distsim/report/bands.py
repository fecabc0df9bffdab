"""The timeline of a run with many ranks: per-phase bands per rank group, and a heat map of the links.

Past a few dozen ranks a Gantt chart is a wall of solid blocks (64 ranks and 128
links made a 1,492 x 4,169 px image, issue 10). Instead, ranks are put in at most
``RANK_GROUPS`` contiguous groups, and each group's row shows, per time bin, the
fraction of its ranks busy in each phase (messages, by phase colour) and each op
kind, stacked: the reduce-scatter and all-gather halves of a ring, the server's
long pull, idle gaps. Links become a heat map: one row per link (in tier and
natural order, ``linkorder.py``), its busy fraction per time bin.

Both are computed from the spans of :mod:`distsim.report.occupancy` (its public
functions, whatever network model timed the messages): busy time per bin,
divided by the bin width and the group size.
"""

from __future__ import annotations

import math
import re

import numpy as np
from matplotlib.collections import PolyCollection

from distsim.report.linkorder import link_tiers, mark_tiers
from distsim.report.occupancy import Spans, busy_grid, link_spans, op_spans, sender_spans
from distsim.trace import Trace

RANK_GROUPS = 16  # rows of the bands, at most (plus one per rank that is not a worker, such as a server)
HEAT_BINS = 400
HEAT_COLOURS = "Blues"  # white (idle) to dark blue (busy): monotonic in lightness, so it survives grey-scale print
_WORKER = re.compile(r"^w\d+$")


def rank_groups(ranks: list[str]) -> list[list[int]]:
    """Contiguous groups of worker ranks (at most RANK_GROUPS), and each other rank (a server) on its own."""
    workers = [r for r, name in enumerate(ranks) if _WORKER.match(name)]
    size = max(1, math.ceil(len(workers) / RANK_GROUPS))
    groups = [workers[i:i + size] for i in range(0, len(workers), size)]
    groups += [[r] for r, name in enumerate(ranks) if not _WORKER.match(name)]
    return groups


def group_label(ranks: list[str], members: list[int]) -> str:
    """'w0–w3', or the one rank's name."""
    first, last = ranks[members[0]], ranks[members[-1]]
    return first if first == last else f"{first}–{last}"


def phase_bands(trace: Trace, groups: list[list[int]], edges: np.ndarray) -> np.ndarray:
    """(group, category, bin): the fraction of the group's ranks busy in each category during each bin.

    Categories are the trace's phases (a message counts on its sender from transfer start to end),
    then its op kinds. A rank busy with two things at once counts twice (fractions may stack above 1).
    """
    row = np.full(len(trace.ranks), -1, dtype=np.int64)
    for g, members in enumerate(groups):
        row[members] = g
    phases, kinds = len(trace.phases), len(trace.op_kinds)
    messages, ops = _shown(sender_spans(trace, row)), _shown(op_spans(trace, row))
    grid = np.concatenate([busy_grid(messages, len(groups), phases, edges), busy_grid(ops, len(groups), kinds, edges)], axis=1)
    sizes = np.array([len(members) for members in groups], dtype=np.float64)
    return grid / (edges[1] - edges[0]) / sizes[:, None, None]


def link_busy_fraction(trace: Trace, links: list[int], edges: np.ndarray) -> np.ndarray:
    """(link, bin): the fraction of each bin that each of ``links`` (in this order) spent transmitting."""
    row = np.full(len(trace.links), -1, dtype=np.int64)
    row[links] = np.arange(len(links))
    spans = _shown(link_spans(trace, row))
    whatever_phase = Spans(spans.row, spans.start, spans.end, np.zeros(len(spans), dtype=np.int64))
    return busy_grid(whatever_phase, len(links), 1, edges)[:, 0, :] / (edges[1] - edges[0])


def _shown(spans: Spans) -> Spans:
    keep = spans.row >= 0
    return Spans(spans.row[keep].astype(np.int64), spans.start[keep], spans.end[keep], spans.category[keep].astype(np.int64))


def draw_bands(ax, trace: Trace, groups: list[list[int]], end: float, scale: float, colours: list) -> None:
    """Each group's row: its categories' fractions stacked from the row's bottom, clipped at a full row."""
    edges = np.linspace(0.0, end, HEAT_BINS + 1)
    bands = phase_bands(trace, groups, edges)
    x = np.repeat(edges / scale, 2)[1:-1]  # each bin's left and right edge: a step outline
    polygons: dict[int, list] = {}
    for g in range(len(groups)):
        stacked = np.minimum(np.cumsum(bands[g], axis=0), 1.0)
        below = np.zeros(HEAT_BINS)
        for category in range(len(colours)):
            if bands[g, category].any():
                top, bottom = np.repeat(g + 0.45 - 0.9 * stacked[category], 2), np.repeat(g + 0.45 - 0.9 * below, 2)
                polygons.setdefault(category, []).append(np.column_stack([np.concatenate([x, x[::-1]]),
                                                                          np.concatenate([top, bottom[::-1]])]))
                below = stacked[category]
    for category, shapes in polygons.items():  # one collection per colour: quick to draw
        ax.add_collection(PolyCollection(shapes, facecolors=colours[category], edgecolors="none"), autolim=False)
    ax.set_ylim(len(groups) - 0.5, -0.5)
    ax.set_yticks(range(len(groups)))
    ax.set_yticklabels([group_label(trace.ranks, members) for members in groups], fontsize=8)
    ax.grid(axis="y", visible=False)


def draw_heat_map(ax, trace: Trace, end: float, scale: float):
    """Links (tier by tier, in natural order) against time, coloured by busy fraction; the image."""
    used = np.flatnonzero(trace.link_bytes() > 0)
    tiers = link_tiers(trace, used)
    order = [link for _, links in tiers for link in links]
    edges = np.linspace(0.0, end, HEAT_BINS + 1)
    busy = link_busy_fraction(trace, order, edges) if order else np.zeros((0, HEAT_BINS))
    image = ax.imshow(busy, extent=(0, end / scale, len(order) - 0.5, -0.5), aspect="auto",
                      interpolation="nearest", cmap=HEAT_COLOURS, vmin=0.0, vmax=1.0)
    step = max(1, math.ceil(len(order) / 40))
    ax.set_yticks(range(0, len(order), step))
    ax.set_yticklabels([trace.links[order[t]].name for t in range(0, len(order), step)], fontsize=7)
    ax.grid(False)
    mark_tiers(ax, tiers, 0.005, ha="left", bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1.0})
    return image

