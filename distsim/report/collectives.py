"""Time against message size for every algorithm of a collective: a table and a log-log plot, crossovers marked.

Reads plain data (``distsim.curves.Curves``: sizes, predicted and simulated seconds
per algorithm, the crossovers); it never runs the tuner or a simulation itself.
"""

from __future__ import annotations

from distsim.fmt import fmt_bytes, fmt_time
from distsim.report.style import PHASE_COLOURS, SPARE_COLOURS, figure, save, styled
from distsim.report.tables import table

COLOURS = list(PHASE_COLOURS.values()) + SPARE_COLOURS + ["#8C510A", "#01665E"]
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
DASHES = ("-", "--", "-.", ":")  # algorithms with the same prediction (ring, multi_ring on one NIC) stay visible


def curves_text(curves, title: str) -> str:
    """One row per size: each algorithm's predicted time (* the cheapest), then the crossovers."""
    names = list(curves.predicted)
    rows = []
    for k, size in enumerate(curves.sizes):
        row = [fmt_bytes(size)]
        for name in names:
            cell = fmt_time(curves.predicted[name][k]) + ("*" if curves.cheapest[k] == name else "")
            if name in curves.simulated:
                cell += f" [{fmt_time(curves.simulated[name][k])}]"
            row.append(cell)
        rows.append(row)
    lines = [title, table(["size"] + names, rows),
             "* cheapest by the model (what algorithm: auto picks)"
             + ("; [simulated makespan] in brackets" if curves.simulated else "")]
    lines.append(crossovers_text(curves.crossovers))
    return "\n".join(lines)


def crossovers_text(found) -> str:
    if not found:
        return "crossovers: none in this range (one algorithm is cheapest throughout)"
    return "crossovers: " + "; ".join(f"{below} -> {above} at {fmt_bytes(at)}" for at, below, above in found)


@styled
def plot_curves(curves, path, title: str):
    """Write the log-log plot of time against size, one line per algorithm, to ``path`` (.png or .svg)."""
    fig, ax = figure(8.5, 5.6)
    for k, (name, seconds) in enumerate(curves.predicted.items()):
        colour = COLOURS[k % len(COLOURS)]
        ax.plot(curves.sizes, seconds, color=colour, linewidth=1.6, linestyle=DASHES[k % len(DASHES)], label=name)
        if name in curves.simulated:
            ax.plot(curves.sizes, curves.simulated[name], linestyle="none", marker=MARKERS[k % len(MARKERS)],
                    markersize=4, markerfacecolor="none", color=colour)
    for at, below, above in curves.crossovers:
        ax.axvline(at, color="#555555", linestyle=":", linewidth=1)
        ax.annotate(f"{below} -> {above}\n{fmt_bytes(at)}", (at, 0.98), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=7, color="#333333")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("buffer size (bytes)")
    ax.set_ylabel("time (s)")
    note = "lines: the tuner's prediction" + ("; markers: simulated" if curves.simulated else "")
    ax.set_title(f"{title}\n{note}; dotted: crossovers")
    ax.legend(loc="lower right", ncol=2, frameon=False)
    return save(fig, path)
