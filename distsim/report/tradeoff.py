"""The memory/time trade-off of the rematerialization schedules: a table and a plot.

Reads sweep points (plain data: schedule, setting, peak bytes, backward time)
and draws peak activation memory against backward time, one marker style per
schedule, with the Pareto frontier as a black staircase: the fastest any
schedule gets within each amount of memory. In a budget sweep the x axis is the
budget and each schedule is the fastest of its settings that fits it. The
device's memory is a dotted vertical line, and the settings that do not fit in
it are listed under the plot with the peak they would need. Memory is in binary
units (MiB, GiB), as in the table and the scenario.
"""

from __future__ import annotations

from distsim.report.style import SPARE_COLOURS, PHASE_COLOURS, figure, save, styled, time_unit
from distsim.report.tables import table
from distsim.fmt import fmt_count, fmt_memory, fmt_time, memory_unit

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


def plot_tradeoff(points, path, title: str, sweep: str = "k", memory: float | None = None):
    """Write the trade-off plot to ``path`` (.png or .svg); ``memory``: the device's, drawn as the limit."""
    return save(tradeoff_figure(points, title, sweep, memory), path)


@styled
def tradeoff_figure(points, title: str, sweep: str = "k", memory: float | None = None):
    """Peak memory against backward time for every fitting point, the Pareto frontier, the device's
    memory as a vertical line, and the settings that do not fit listed under the plot."""
    fitting = [p for p in points if p.fits]
    scale, unit = time_unit(max((p.backward_s for p in fitting), default=0.0) or 1e-9)
    fig, ax = figure(8.0, 5.2)
    mem_scale, mem_unit = memory_unit(max([p.peak_bytes for p in points] + [memory or 0.0]))
    x_of = (lambda p: p.budget / mem_scale) if sweep == "budget" else (lambda p: p.peak_bytes / mem_scale)
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
    if memory is not None:
        _memory_limit(ax, memory, mem_scale, [x_of(p) for p in points if p.fits or sweep != "budget"])
    ax.set_xlabel(f"memory budget ({mem_unit})" if sweep == "budget" else f"peak activation memory ({mem_unit})")
    ax.set_ylabel(f"backward pass time ({unit})")
    ax.set_title(title)
    ax.legend(loc="upper right", frameon=False)
    _list_misfits(ax, [p for p in points if not p.fits], memory)
    return fig


def _memory_limit(ax, memory: float, scale: float, xs: list[float]) -> None:
    """The device's memory as a vertical line, when it is near the points (else only named in the legend)."""
    label = f"device memory ({fmt_memory(memory)})"
    if xs and memory / scale <= 1.5 * max(xs):
        ax.axvline(memory / scale, color="#B30000", linestyle=":", linewidth=1.4, label=label)
    else:
        ax.plot([], [], color="#B30000", linestyle=":", label=f"{label}, off the right edge")


def _list_misfits(ax, misfits, memory: float | None) -> None:
    """Under the plot: each schedule with settings that do not fit, and the peak they would need."""
    if not misfits:
        return
    lines = []
    for name in dict.fromkeys(p.schedule for p in misfits):
        mine = [p for p in misfits if p.schedule == name]
        peaks = sorted({p.peak_bytes for p in mine})
        need = fmt_memory(peaks[0]) if len(peaks) == 1 else f"{fmt_memory(peaks[0])} to {fmt_memory(peaks[-1])}"
        setting = f" {mine[0].param} = {_values([p.value for p in mine])}" if mine[0].param else ""
        lines.append(f"{name}{setting} ({need})")
    where = f" in {fmt_memory(memory)}" if memory else ""
    ax.text(0.0, -0.16, f"do not fit{where}: " + "; ".join(lines), transform=ax.transAxes, va="top", ha="left",
            fontsize=8, color="#B30000", wrap=True)


def _values(values) -> str:
    """'1, 2, 3' or '1 to 12, 9 settings'."""
    values = sorted(v for v in values if v is not None)
    if len(values) <= 4:
        return ", ".join(f"{v:,.0f}" for v in values)
    return f"{values[0]:,.0f} to {values[-1]:,.0f}, {len(values)} settings"


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
