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
"""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.patches import Patch

from distsim.fmt import fmt_count, fmt_time
from distsim.report.occupancy import Spans, busy_grid, link_spans, op_spans, sender_spans
from distsim.report.style import figure, op_style, phase_colour, styled, time_unit
from distsim.trace import Trace

BAR_LIMIT = 20_000
BINS = 1200
LABEL_LIMIT = 40  # rows labelled one by one; beyond, every k-th


@styled
def timeline_figure(runs: list[tuple[str, Trace]]):
    """One Gantt panel per (title, trace), stacked; returns the matplotlib figure."""
    heights = [_panel_height(trace) for _, trace in runs]
    fig, axes = figure(10.0, sum(heights) + 0.3 * len(runs), nrows=len(runs), squeeze=False,
                       gridspec_kw={"height_ratios": heights})
    for ax, (title, trace) in zip(axes[:, 0], runs):
        _panel(ax, title, trace)
    fig.tight_layout()
    return fig


class Layout:
    """Which chart row each rank and link gets: ranks first, then every link that carried a message."""

    def __init__(self, trace: Trace):
        used = np.flatnonzero(trace.link_bytes() > 0)
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


def _panel(ax, title: str, trace: Trace) -> None:
    layout = Layout(trace)
    phases, kinds = trace.phases, trace.op_kinds
    messages = Spans.concat([sender_spans(trace, layout.rank_row), link_spans(trace, layout.link_row)])
    ops = op_spans(trace, layout.rank_row)
    end = max(trace.makespan, float(messages.end.max()) if len(messages) else 0.0,
              float(ops.end.max()) if len(ops) else 0.0) or 1.0
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
    _row_labels(ax, layout)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.grid(axis="y", visible=False)
    ax.set_axisbelow(True)
    ax.set_title(f"{title}: {fmt_count(len(trace.messages))} messages, makespan {fmt_time(trace.makespan)}{how}", loc="left")
    handles = [Patch(facecolor=colours[i], label=p.replace("_", "-") or "message") for i, p in enumerate(phases)]
    handles += [Patch(facecolor=c, hatch=h, edgecolor="white", label=k) for k, (c, h) in zip(kinds, styles)]
    if handles:
        title = "rows: ranks, then links" if layout.rows > layout.ranks else "rows: ranks"
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title=title)


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
