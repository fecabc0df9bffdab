"""The timeline of a run: a Gantt chart with one row per rank and one per link.

A rank's row shows, in its upper half, the transfers it sent (coloured by phase:
reduce-scatter, all-gather, push, pull, exchange) and, in its lower half, its
compute and memory ops (grey; memory hatched). A link's row shows every message
that held it. Contention reads directly off the chart: back-to-back bars on one
link, gaps on the ranks that wait for it.

Large traces: up to ``BAR_LIMIT`` spans are drawn one rectangle each. Beyond,
each row is cut into ``BINS`` time bins and a bin is painted in the colour of the
category that kept it busiest, paler the less busy it was; a two-million-message
trace plots in seconds and still shows the phases and the idle gaps.

Many ranks: past ``AGGREGATE_RANKS`` a row per rank is unreadable, so the run gets
two panels instead (``bands.py``): per-phase bands per rank group, and a heat map
of every link's busy fraction over time. Link rows are listed by tier (uplinks,
downlinks, trunks, direct) and in natural name order (``linkorder.py``).
"""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.patches import Patch

from distsim.fmt import fmt_count, fmt_time
from distsim.report.bands import HEAT_BINS, RANK_GROUPS, draw_bands, draw_heat_map, phase_bands, rank_groups
from distsim.report.linkorder import link_tiers
from distsim.report.occupancy import Spans, busy_grid, link_spans, op_spans, sender_spans
from distsim.report.style import figure, op_style, phase_colour, styled, time_unit
from distsim.trace import Trace

BAR_LIMIT = 20_000
BINS = 1200
LABEL_LIMIT = 40  # rows labelled one by one; beyond, every k-th
AGGREGATE_RANKS = 32  # more ranks than this: phase bands per rank group and a link heat map

__all__ = ["AGGREGATE_RANKS", "HEAT_BINS", "RANK_GROUPS", "phase_bands", "rank_groups", "time_unit", "timeline_figure"]


@styled
def timeline_figure(runs: list[tuple[str, Trace]]):
    """One Gantt panel per (title, trace), or two (bands, heat map) for a run with many ranks; stacked."""
    panels = [(title, trace, part) for title, trace in runs for part in _parts(trace)]
    heights = [_part_height(trace, part) for _, trace, part in panels]
    fig, axes = figure(10.0, sum(heights) + 0.3 * len(panels), nrows=len(panels), squeeze=False,
                       gridspec_kw={"height_ratios": heights})
    for ax, (title, trace, part) in zip(axes[:, 0], panels):
        ax.set_label(title if part == "gantt" else f"{title}: {part}")
        (_panel if part == "gantt" else _ranks_panel if part == "ranks" else _links_panel)(ax, title, trace)
    fig.tight_layout()
    return fig


def _parts(trace: Trace) -> tuple[str, ...]:
    if len(trace.ranks) <= AGGREGATE_RANKS:
        return ("gantt",)
    return ("ranks", "links") if len(trace.messages) else ("ranks",)


def _part_height(trace: Trace, part: str) -> float:
    if part == "gantt":
        return _panel_height(trace)
    if part == "ranks":
        return float(np.clip(1.0 + 0.28 * len(rank_groups(trace.ranks)), 2.5, 5.5))
    return 4.0


class Layout:
    """Which chart row each rank and link gets: ranks first, then every link that carried a message
    (by tier, in natural name order)."""

    def __init__(self, trace: Trace):
        tiers = link_tiers(trace, np.flatnonzero(trace.link_bytes() > 0))
        used = [link for _, links in tiers for link in links]
        self.tier_starts = list(np.cumsum([len(trace.ranks)] + [len(links) for _, links in tiers])[1:-1])
        self.ranks = len(trace.ranks)
        self.rank_row = np.arange(self.ranks)
        self.link_row = np.full(len(trace.links), -1, dtype=np.int64)
        self.link_row[used] = self.ranks + np.arange(len(used))
        self.labels = list(trace.ranks) + [trace.links[i].name for i in used]

    @property
    def rows(self) -> int:
        return len(self.labels)


def _panel_height(trace: Trace) -> float:
    rows = Layout(trace).rows
    return float(np.clip(0.9 + 0.2 * rows, 2.0, 9.0))


def _end(trace: Trace, spans: list[Spans]) -> float:
    """Where the time axis ends: the makespan, or the last span if one ends later."""
    return max([trace.makespan] + [float(part.end.max()) for part in spans if len(part)]) or 1.0


def _ranks_panel(ax, title: str, trace: Trace) -> None:
    """Per-phase bands per rank group (many ranks)."""
    groups = rank_groups(trace.ranks)
    end = _end(trace, [sender_spans(trace, np.arange(len(trace.ranks))), op_spans(trace, np.arange(len(trace.ranks)))])
    scale, unit = time_unit(end)
    colours = [phase_colour(p, i) for i, p in enumerate(trace.phases)]
    styles = [op_style(k, i) for i, k in enumerate(trace.op_kinds)]
    draw_bands(ax, trace, groups, end, scale, colours + [c for c, _ in styles])
    ax.set_xlim(0, end / scale)
    ax.set_xlabel(f"simulated time ({unit})")
    size = max(len(members) for members in groups)
    ax.set_title(f"{title}: {fmt_count(len(trace.messages))} messages, makespan {fmt_time(trace.makespan)} — "
                 f"{len(trace.ranks)} ranks in groups of up to {size}: the fraction of each group busy in each phase",
                 loc="left")
    _legend(ax, trace.phases, trace.op_kinds, colours, styles, "rows: groups of ranks")


def _links_panel(ax, title: str, trace: Trace) -> None:
    """Every link's busy fraction over time (many ranks)."""
    end = _end(trace, [sender_spans(trace, np.arange(len(trace.ranks))), op_spans(trace, np.arange(len(trace.ranks)))])
    scale, unit = time_unit(end)
    image = draw_heat_map(ax, trace, end, scale)
    ax.set_xlim(0, end / scale)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_title(f"{title}: links, fraction of each moment spent transmitting", loc="left")
    bar = ax.figure.colorbar(image, cax=ax.inset_axes((1.01, 0.0, 0.015, 1.0)))
    bar.set_label("busy fraction")


def _legend(ax, phases, kinds, colours, styles, title: str) -> None:
    handles = [Patch(facecolor=colours[i], label=p.replace("_", "-") or "message") for i, p in enumerate(phases)]
    handles += [Patch(facecolor=c, hatch=h, edgecolor="white", label=k) for k, (c, h) in zip(kinds, styles)]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title=title)


def _panel(ax, title: str, trace: Trace) -> None:
    layout = Layout(trace)
    phases, kinds = trace.phases, trace.op_kinds
    messages = Spans.concat([sender_spans(trace, layout.rank_row), link_spans(trace, layout.link_row)])
    ops = op_spans(trace, layout.rank_row)
    end = _end(trace, [messages, ops])
    scale, unit = time_unit(end)
    colours = [phase_colour(p, i) for i, p in enumerate(phases)]
    styles = [op_style(k, i) for i, k in enumerate(kinds)]
    spans = len(messages) + len(ops)
    if spans <= BAR_LIMIT:
        _bars(ax, layout, messages, ops, colours, styles, scale)
        how = ""
    else:
        _binned(ax, layout, messages, ops, colours, [c for c, _ in styles], end, scale)
        how = f" — {fmt_count(spans)} spans aggregated into {BINS} time bins"
    ax.set_xlim(0, end / scale)
    ax.set_ylim(layout.rows - 0.5, -0.5)
    ax.axhline(layout.ranks - 0.5, color="black", linewidth=0.8)
    for row in layout.tier_starts:  # between uplinks, downlinks, trunks
        ax.axhline(row - 0.5, color="#777777", linewidth=0.5)
    _row_labels(ax, layout)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.grid(axis="y", visible=False)
    ax.set_axisbelow(True)
    ax.set_title(f"{title}: {fmt_count(len(trace.messages))} messages, makespan {fmt_time(trace.makespan)}{how}", loc="left")
    _legend(ax, phases, kinds, colours, styles, "rows: ranks, then links" if layout.rows > layout.ranks else "rows: ranks")


def _rectangles(row: np.ndarray, start: np.ndarray, end: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    verts = np.empty((len(row), 4, 2))
    verts[:, 0, 0] = verts[:, 1, 0] = start
    verts[:, 2, 0] = verts[:, 3, 0] = end
    verts[:, 0, 1] = verts[:, 3, 1] = row + bottom
    verts[:, 1, 1] = verts[:, 2, 1] = row + top
    return verts


def _bars(ax, layout: Layout, messages: Spans, ops: Spans, colours, styles, scale: float) -> None:
    """One rectangle per span: on rank rows messages take the upper half and ops the lower half
    (the whole row when the run has no ops)."""
    top = np.full(len(messages), -0.4)
    bottom = np.where((messages.row < layout.ranks) & bool(len(ops)), 0.0, 0.4)
    edge = 0.3 if len(messages) + len(ops) < 3000 else 0.0
    for code, colour in enumerate(colours):
        pick = messages.category == code
        if pick.any():
            verts = _rectangles(messages.row[pick], messages.start[pick] / scale, messages.end[pick] / scale, top[pick], bottom[pick])
            ax.add_collection(PolyCollection(verts, facecolors=colour, edgecolors="white", linewidths=edge))
    for code, (colour, hatch) in enumerate(styles):
        pick = ops.category == code
        if pick.any():
            n = int(pick.sum())
            top = 0.0 if len(messages) else -0.4  # without messages, ops take the whole row
            verts = _rectangles(ops.row[pick], ops.start[pick] / scale, ops.end[pick] / scale, np.full(n, top), np.full(n, 0.4))
            ax.add_collection(PolyCollection(verts, facecolors=colour, edgecolors="white", linewidths=edge, hatch=hatch))


def _binned(ax, layout: Layout, messages: Spans, ops: Spans, colours, op_colours, end: float, scale: float) -> None:
    """Each (row, time bin) painted by the category busiest in it, paler the less busy it was."""
    edges = np.linspace(0.0, end, BINS + 1)
    width = edges[1] - edges[0]
    upper = _painted(busy_grid(messages, layout.rows, max(len(colours), 1), edges), colours, width)
    lower = _painted(busy_grid(ops, layout.rows, max(len(op_colours), 1), edges), op_colours, width)
    whole = (np.arange(layout.rows) >= layout.ranks) | (not len(ops))
    lower[whole] = upper[whole]  # a link row (or a run without ops) is messages only
    if not len(messages):
        upper = lower  # a run without messages: ops fill the rank rows
    image = np.empty((2 * layout.rows, BINS, 3))
    image[0::2], image[1::2] = upper, lower
    ax.imshow(image, extent=(0, end / scale, layout.rows - 0.5, -0.5), aspect="auto", interpolation="nearest")


def _painted(grid: np.ndarray, colours, width: float) -> np.ndarray:
    """RGB per (row, bin): the busiest category's colour blended with white by how busy the bin was."""
    rows, _, bins = grid.shape
    image = np.ones((rows, bins, 3))
    if not colours:
        return image
    palette = np.array([to_rgb(c) for c in colours])
    busiest = grid.argmax(axis=1)
    fill = np.clip(grid.sum(axis=1) / width, 0.0, 1.0)[..., None]
    return 1.0 - fill * (1.0 - palette[busiest])


def _row_labels(ax, layout: Layout) -> None:
    step = max(1, int(np.ceil(layout.rows / LABEL_LIMIT)))
    ranks = [t for t in range(0, layout.ranks, step) if t == 0 or t <= layout.ranks - step / 2]  # clear of the first link
    ticks = ranks + list(range(layout.ranks, layout.rows, step))
    ax.set_yticks(ticks)
    ax.set_yticklabels([layout.labels[t] for t in ticks], fontsize=8 if layout.rows > 20 else 9)
