"""The memory/time trade-off of the rematerialization schedules: a table and a plot.

Reads sweep points (plain data: schedule, setting, peak bytes, backward time)
and draws peak activation memory against backward time, one marker style per
schedule, with the Pareto frontier as a black staircase: the fastest any
schedule gets within each amount of memory. In a budget sweep the x axis is the
budget and each schedule is the fastest of its settings that fits it.
"""

from __future__ import annotations

from distsim.report.style import SPARE_COLOURS, PHASE_COLOURS, figure, save, styled, time_unit
from distsim.report.tables import table
from distsim.fmt import fmt_count, fmt_memory, fmt_time

MIB = 2**20
MARKERS = {
    "store_all": ("s", PHASE_COLOURS["reduce_scatter"]),
    "disk_offload": ("D", PHASE_COLOURS["pull"]),
    "checkpoint_every_k": ("o", PHASE_COLOURS["all_gather"]),
    "segment_recompute": ("^", PHASE_COLOURS["push"]),
    "checkpoint_sequential": ("v", PHASE_COLOURS["exchange"]),
    "optimal": ("x", SPARE_COLOURS[0]),
}


def tradeoff_table(points, sweep: str) -> str:
    """One row per point: setting, peak memory, backward time, op counts, and * on the frontier."""
    rows = []
    for p in points:
        rows.append([
            fmt_memory(p.budget) if sweep == "budget" else "", p.label,
            fmt_memory(p.peak_bytes), fmt_time(p.backward_s) if p.fits else "out of memory",
            fmt_count(p.fwd_ops) if p.fits else "", fmt_count(p.loadmem_ops) if p.fits else "",
            fmt_count(p.loaddisk_ops) if p.fits else "", "*" if p.pareto else "",
        ])
    header = ["budget", "schedule", "peak activations", "backward time", "fwd (recompute)", "loadmem", "loaddisk", "frontier"]
    if sweep != "budget":
        header, rows = header[1:], [row[1:] for row in rows]
    return table(header, rows) + "\n(* = on the Pareto frontier: nothing else is both smaller and faster)"


@styled
def plot_tradeoff(points, path, title: str, sweep: str = "k"):
    """Write the trade-off plot to ``path`` (.png or .svg)."""
    fitting = [p for p in points if p.fits]
    scale, unit = time_unit(max((p.backward_s for p in fitting), default=0.0) or 1e-9)
    fig, ax = figure(8.0, 5.2)
    x_of = (lambda p: p.budget / MIB) if sweep == "budget" else (lambda p: p.peak_bytes / MIB)
    for name, (marker, colour) in MARKERS.items():
        mine = sorted((p for p in fitting if p.schedule == name), key=lambda p: (x_of(p), p.backward_s))
        if not mine:
            continue
        xs, ys = [x_of(p) for p in mine], [p.backward_s / scale for p in mine]
        if sweep == "budget":
            ax.step(xs, ys, where="post", color=colour, marker=marker, markersize=4, linewidth=1.2, label=name)
        else:
            ax.plot(xs, ys, linestyle="none", marker=marker, color=colour, markersize=6,
                    markerfacecolor="none" if marker not in "x" else colour, label=name)
    frontier = _frontier(fitting, x_of)
    if frontier:
        budget = sweep == "budget"  # there the frontier runs over the schedules' own lines: dash it on top
        ax.step([x for x, _ in frontier], [y / scale for _, y in frontier], where="post", color="black",
                linewidth=1.4 if budget else 1.6, alpha=0.8, linestyle="--" if budget else "-",
                label="Pareto frontier", zorder=3 if budget else 0)
        if sweep != "budget":
            _label_frontier(ax, [p for p in fitting if p.pareto], x_of, scale)
    ax.set_xlabel("memory budget (MiB)" if sweep == "budget" else "peak activation memory (MiB)")
    ax.set_ylabel(f"backward pass time ({unit})")
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False)
    return save(fig, path)


def _label_frontier(ax, frontier, x_of, scale, gap: float = 0.12) -> None:
    """Name the frontier's points, skipping any closer than ``gap`` of the x range to the last one named."""
    if not frontier:
        return
    xs = [x_of(p) for p in frontier]
    span, last = (max(xs) - min(xs)) or 1.0, None
    for p in sorted(frontier, key=x_of):
        if last is None or x_of(p) - last >= gap * span:
            text = f"{p.schedule}" + (f" {p.param}={p.value:.0f}" if p.param else "")
            ax.annotate(text, (x_of(p), p.backward_s / scale), textcoords="offset points", xytext=(4, 5),
                        fontsize=7, color="#333333")
            last = x_of(p)


def _frontier(points, x_of) -> list[tuple[float, float]]:
    """(x, time) corners of the staircase: the least time reached at or below each x."""
    corners, best = [], float("inf")
    for p in sorted(points, key=lambda p: (x_of(p), p.backward_s)):
        if p.backward_s < best:
            corners.append((x_of(p), p.backward_s))
            best = p.backward_s
    return corners
