"""The timeline of a training step: for a few ranks, their compute stream above their communication stream.

The compute lane shows the forward pass, the recomputation, the backward steps and
the optimizer step; the communication lane shows each collective from the moment the
rank's communication stream starts it to the moment it ends (the ``grad:begin`` /
``grad:end`` ops and the like), coloured by what it carries: gradient buckets, the
updated weights gathered after a ZeRO-1/2 optimizer step, a ZeRO-3 layer's weights
gathered before use. Overlap reads straight off the chart: communication under
backward compute is hidden; communication after it, with the compute lane empty, is
exposed. With many ranks only a few are drawn: the first, the slowest (a
straggler), the one that ends last, and the last.
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Patch

from distsim.fmt import fmt_time
from distsim.report.style import figure, styled, time_unit
from distsim.trace import Trace

COMPUTE = {"fwd": ("#0072B2", "forward"), "recompute": ("#E69F00", "recompute"), "bwd": ("#009E73", "backward"),
           "optimizer": ("#CC79A7", "optimizer")}
COMM = {"grad": ("#D55E00", "gradient bucket (all-reduce / reduce-scatter)"),
        "param": ("#56B4E9", "updated weights (all-gather)"), "gather": ("#F0E442", "layer weights (all-gather)")}
OTHER = "#999999"
MAX_RANKS = 4


def is_step(trace: Trace) -> bool:
    """A training step's trace: its ranks mark collectives on a communication stream."""
    return any(name.endswith(":begin") for name in trace.op_kinds)


@styled
def step_timeline_figure(runs: list[tuple[str, Trace]]):
    """One panel per (title, trace): two lanes (compute, communication) for each of a few ranks."""
    picked = [(title, trace, shown_ranks(trace)) for title, trace in runs]
    heights = [0.55 * 2 * len(ranks) + 0.9 for _, _, ranks in picked]
    fig, axes = figure(10.0, sum(heights) + 0.6, nrows=len(runs), squeeze=False, gridspec_kw={"height_ratios": heights})
    for ax, (title, trace, ranks) in zip(axes[:, 0], picked):
        _panel(ax, title, trace, ranks)
    handles = [Patch(color=c, label=label) for c, label in COMPUTE.values()] + \
              [Patch(color=c, label=label) for c, label in COMM.values()]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.1 if len(runs) == 1 else 0.06, 1, 1))
    return fig


def shown_ranks(trace: Trace) -> list[int]:
    """All ranks up to MAX_RANKS; else the first, the one computing longest, the one ending last, and the last."""
    n = len(trace.ranks)
    if n <= MAX_RANKS:
        return list(range(n))
    o = trace.ops.columns()
    kinds = np.array(trace.op_kinds or [""], dtype=object)[o["kind"]]
    busy = np.bincount(o["rank"][np.isin(kinds, list(COMPUTE))], weights=(o["t_end"] - o["t_start"])[np.isin(kinds, list(COMPUTE))],
                       minlength=n)
    ends = np.zeros(n)
    np.maximum.at(ends, o["rank"], o["t_end"])
    return sorted(dict.fromkeys([0, int(np.argmax(busy)), int(np.argmax(ends)), n - 1]))


def _panel(ax, title: str, trace: Trace, ranks: list[int]) -> None:
    scale, unit = time_unit(trace.makespan or 1.0)
    o = trace.ops.columns()
    kinds = np.array(trace.op_kinds or [""], dtype=object)[o["kind"]] if len(trace.ops) else np.array([], dtype=object)
    labels = []
    for row, rank in enumerate(ranks):
        mine = o["rank"] == rank
        top, bottom = 2 * row, 2 * row + 1
        for kind, (colour, _) in COMPUTE.items():
            sel = mine & (kinds == kind) & (o["t_end"] > o["t_start"])
            _bars(ax, o["t_start"][sel] / scale, (o["t_end"] - o["t_start"])[sel] / scale, top, colour)
        for what, spans in _collectives(kinds[mine], o["t_start"][mine]).items():
            colour = COMM.get(what, (OTHER, ""))[0]
            _bars(ax, spans[:, 0] / scale, (spans[:, 1] - spans[:, 0]) / scale, bottom, colour)
        labels += [f"{trace.ranks[rank]} compute", f"{trace.ranks[rank]} comm"]
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.4, -0.6)
    ax.set_xlim(0, (trace.makespan or 1.0) / scale)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.grid(axis="y", visible=False)
    ax.set_title(f"{title}: step {fmt_time(trace.makespan)}", loc="left")


def _collectives(kinds, starts) -> dict[str, np.ndarray]:
    """What -> (start, end) rows of the collectives this rank's communication stream ran, from its marker ops."""
    begins = [(str(k)[: -len(":begin")], t) for k, t in zip(kinds, starts) if str(k).endswith(":begin")]
    ends = [t for k, t in zip(kinds, starts) if str(k).endswith(":end")]
    found: dict[str, list] = {}
    for (what, start), end in zip(begins, ends):
        found.setdefault(what, []).append((start, end))
    return {what: np.array(spans) for what, spans in found.items()}


def _bars(ax, starts, widths, row: int, colour: str) -> None:
    if len(starts):
        ax.broken_barh(list(zip(starts, widths)), (row - 0.38, 0.76), facecolors=colour, linewidth=0)
