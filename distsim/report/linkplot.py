"""What the network did: link utilization over time and bytes per link, naming the bottleneck.

Left: the fraction of each time bin that the busiest links spent transmitting,
with the mean over every link that carried traffic. Right: bytes carried per
link (the links that carried most), listed by tier and in natural name order
(``linkorder.py``), the bottleneck (the link busy longest, from
:func:`distsim.analysis.links.link_loads`) in vermillion. Both come from the trace alone.
"""

from __future__ import annotations

import numpy as np

from distsim.analysis.links import LinkLoad, link_loads
from distsim.fmt import fmt_bytes, fmt_time
from distsim.report.linkorder import link_tiers, mark_tiers, natural_key
from distsim.report.occupancy import busy_per_bin, link_spans
from distsim.report.style import BOTTLENECK_COLOUR, OTHER_COLOUR, figure, styled, time_unit
from distsim.trace import Trace

BINS = 200
LINES = 5  # busiest links drawn one by one
BARS = 24  # links listed in the bytes panel
TIE = 1e-9  # relative: links this close to the busiest share the bottleneck
LINE_COLOURS = ("#0072B2", "#009E73", "#CC79A7", "#000000")  # after the bottleneck's vermillion


@styled
def links_figure(runs: list[tuple[str, Trace]]):
    """A row of two panels (utilization over time, bytes per link) per (title, trace)."""
    heights = [max(3.2, 0.9 + 0.17 * min(_used(trace), BARS)) for _, trace in runs]
    fig, axes = figure(12.0, sum(heights), nrows=len(runs), ncols=2, squeeze=False,
                       gridspec_kw={"height_ratios": heights, "width_ratios": [1.4, 1.0]})
    for (left, right), (title, trace) in zip(axes, runs):
        loads = link_loads(trace)
        _utilization(left, title, trace, loads)
        _bytes(right, trace, loads)
    fig.tight_layout()
    return fig


def bottleneck_sentence(loads: list[LinkLoad]) -> str:
    """'bottleneck: ps->switch, busy 100% of the makespan, carried 32 GB' (or the links that tie)."""
    if not loads:
        return "no message crossed the network"
    top = loads[0]
    tied = [load.name for load in loads if load.busy_s >= top.busy_s * (1 - TIE)]
    head = f"bottleneck: {top.name}" if len(tied) == 1 else f"{len(tied)} links tie as the bottleneck (e.g. {top.name})"
    return f"{head},\nbusy {100 * top.utilization:.0f}% of the makespan, carried {fmt_bytes(top.bytes)}"


def _used(trace: Trace) -> int:
    return int(np.count_nonzero(trace.link_bytes() > 0))


def _utilization(ax, title: str, trace: Trace, loads: list[LinkLoad]) -> None:
    end = trace.makespan or 1.0
    scale, unit = time_unit(end)
    edges = np.linspace(0.0, end, BINS + 1)
    width = edges[1] - edges[0]
    ids = {link.name: link.id for link in trace.links}
    row = np.full(len(trace.links), -1, dtype=np.int64)
    for k, load in enumerate(loads):
        row[ids[load.name]] = k
    spans = link_spans(trace, row)
    centres = (edges[:-1] + edges[1:]) / 2 / scale
    if loads:
        everything = busy_per_bin(spans.start, spans.end, edges) / width / len(loads)
        ax.plot(centres, everything, color="black", linestyle="--", linewidth=1.2, label=f"mean of {len(loads)} links")
    for k, load in enumerate(loads[:LINES]):
        pick = spans.row == k
        busy = busy_per_bin(spans.start[pick], spans.end[pick], edges) / width
        colour = BOTTLENECK_COLOUR if k == 0 else LINE_COLOURS[(k - 1) % len(LINE_COLOURS)]
        ax.step(centres, busy, where="mid", color=colour, linewidth=1.6 if k == 0 else 1.0, label=load.name)
    ax.set_xlim(0, end / scale)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("fraction of time transmitting")
    ax.set_title(f"{title}: link utilization\n{bottleneck_sentence(loads)}", loc="left")
    if loads:
        ax.legend(loc="lower left", frameon=True, framealpha=0.9)


def _bytes(ax, trace: Trace, loads: list[LinkLoad]) -> None:
    """The links that carried the most (up to BARS), listed by tier and in natural name order."""
    top = sorted(loads, key=lambda load: (-load.bytes, natural_key(load.name)))[:BARS]
    ids = {link.name: link.id for link in trace.links}
    by_name = {load.name: load for load in top}
    tiers = [(name, [by_name[trace.links[i].name] for i in links]) for name, links in link_tiers(trace, [ids[l.name] for l in top])]
    shown = [load for _, members in tiers for load in members]
    bottleneck = loads[0].name if loads else None
    names = [load.name for load in shown]
    values = [load.bytes for load in shown]
    colours = [BOTTLENECK_COLOUR if name == bottleneck else OTHER_COLOUR for name in names]
    y = np.arange(len(shown))
    ax.barh(y, values, color=colours)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8 if len(shown) > 12 else 9)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_axisbelow(True)
    ax.xaxis.set_major_formatter(lambda value, _pos: fmt_bytes(value) if value else "0")
    mark_tiers(ax, tiers, 0.995, ha="right", color="#444444")
    more = f" (top {BARS} of {len(loads)})" if len(loads) > BARS else ""
    ax.set_title(f"bytes per link{more}", loc="left")
    for k, load in enumerate(shown):
        if load.name == bottleneck:
            ax.annotate(f" busy {fmt_time(load.busy_s)}", (load.bytes, k), va="center", ha="right", color="white", fontsize=8)

