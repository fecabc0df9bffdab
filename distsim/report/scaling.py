"""Scaling from a sweep CSV: messages, bytes and makespan against n, simulated points on closed-form curves.

The curves are computed here from :mod:`distsim.analysis.closed_forms` for every
n between the smallest and largest swept, from the inputs each row records; they
are never fitted to, or drawn through, the simulated points. So a point off its
curve is a real disagreement (or, for the makespan, contention that the
contention-free formula leaves out: the dashed curves are the exact models that
include it, such as the parameter server's link bottleneck).
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from distsim.analysis.closed_forms import CLOSED_FORMS, Inputs, expectation
from distsim.errors import InputError
from distsim.fmt import fmt_bytes
from distsim.report.style import SPARE_COLOURS, figure, styled

STRATEGY_COLOURS = {"ring_allreduce": "#0072B2", "parameter_server": "#009E73", "all_to_all": "#CC79A7"}
MARKERS = ("o", "s", "^", "D", "v", "P")
INPUTS = ("params", "bytes_per_param", "topology", "bandwidth", "latency", "flops", "reduce_compute", "server")
REQUIRED = ("point_key", "strategy", "family", "workers", *INPUTS, "messages", "total_bytes", "makespan_s", "ok", "error")
PANELS = (("messages", "messages"), ("total_bytes", "bytes sent in total"), ("makespan_s", "makespan (s)"))
CURVE_POINTS = 80


def read_sweep_csv(path: str | Path) -> list[dict]:
    """The rows of a ``distsim sweep`` CSV; InputError naming what is missing otherwise."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read the sweep CSV ({exc})") from None
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InputError(f"{path}: not a distsim sweep CSV (missing columns: {', '.join(missing)})")
    return rows


def inputs_of(row: dict, workers: int | None = None) -> Inputs:
    """The closed forms' inputs recorded in a row (``workers`` replaced, to draw a curve)."""
    server = row["server"]
    return Inputs(
        kind=row["strategy"], workers=int(workers if workers is not None else row["workers"]),
        params=int(row["params"]), bytes_per_param=int(row["bytes_per_param"]),
        bandwidth=float(row["bandwidth"]), latency=float(row["latency"]), topology=row["topology"],
        flops=float(row["flops"]), reduce_compute=row["reduce_compute"] == "true",
        server=int(server) if server.lstrip("-").isdigit() else server,
        network=row.get("network") or "cut_through",
    )


def curves(row: dict, ns: np.ndarray) -> dict[str, np.ndarray]:
    """Closed-form values at each n: messages, total_bytes, makespan_s, and each extra makespan model."""
    values: dict[str, list] = {"messages": [], "total_bytes": [], "makespan_s": []}
    for n in ns:
        exp = expectation(inputs_of(row, int(n)))
        if exp is None:
            return {}
        values["messages"].append(exp.messages.value)
        values["total_bytes"].append(exp.total_bytes.value)
        values["makespan_s"].append(exp.makespan.value if exp.makespan else np.nan)
        for name, model in exp.models.items():
            values.setdefault(f"makespan_s ({name})", [np.nan] * (len(values["messages"]) - 1)).append(model.value)
    return {k: np.array(v, dtype=float) for k, v in values.items()}


def groups(rows: list[dict]) -> dict[tuple, list[dict]]:
    """Rows that differ only in n, in the order first seen: one line per group.

    A line's closed-form curve needs every input fixed; a strategy without curves here (a
    collective: its forms need the cluster's routes) is one line per gradient size, even
    where the cluster's recorded figures change with n (one node, then several).
    """
    found: dict[tuple, list[dict]] = {}
    for row in rows:
        if row["bandwidth"] and not row["error"] and row["workers"]:  # rows that record the closed forms' inputs
            fixed = INPUTS if row["strategy"] in CLOSED_FORMS else ("params", "bytes_per_param")
            key = (row["strategy"], *(row[c] if c in fixed else None for c in INPUTS), row.get("network"))
            found.setdefault(key, []).append(row)
    return found


@styled
def scaling_figure(rows: list[dict], title: str = "scaling"):
    """Three log-log panels against n; raise InputError when the rows do not vary n."""
    lines = groups(rows)
    if not lines:
        raise InputError("no finished communication rows in the sweep CSV: nothing to plot")
    if all(len({r["workers"] for r in members}) < 2 for members in lines.values()):
        raise InputError("a scaling plot needs a sweep over cluster.workers (every line of this CSV has one n)")
    fig, axes = figure(13.0, 4.4, ncols=3)
    labels = _labels(list(lines))
    markers = itertools.cycle(MARKERS)
    others = [k for k in dict.fromkeys(key[0] for key in lines) if k not in STRATEGY_COLOURS]
    for key, members in lines.items():
        colour = STRATEGY_COLOURS.get(key[0]) or SPARE_COLOURS[others.index(key[0]) % len(SPARE_COLOURS)]
        _line(axes, members, colour, next(markers), labels[key])
    for ax, (_, name) in zip(axes, PANELS):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("workers n")
        ax.set_title(name, loc="left")
        ax.xaxis.set_major_formatter(lambda value, _pos: f"{value:g}")
    axes[1].yaxis.set_major_formatter(lambda value, _pos: fmt_bytes(value))  # traffic: decimal units, as in the text
    axes[0].legend(loc="upper left", frameon=True, framealpha=0.9)
    styles = [
        Line2D([], [], color="black", linestyle="-", label="closed form (contention-free alpha-beta)"),
        Line2D([], [], color="black", linestyle="--", label="closed form with the link bottleneck (exact model)"),
        Line2D([], [], color="black", marker="o", linestyle="none", label="simulated"),
        Line2D([], [], color="black", marker="x", linestyle="none", label="simulated, this panel's check failed"),
    ]
    fig.legend(handles=styles, loc="lower center", ncol=4, frameon=False)
    fig.suptitle(f"{title}: simulated points on closed-form curves", x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def _line(axes, members: list[dict], colour: str, marker: str, label: str) -> None:
    ns = np.array(sorted({int(r["workers"]) for r in members}))
    grid = np.unique(np.concatenate([ns, np.round(np.geomspace(ns[0], ns[-1], CURVE_POINTS)).astype(int)]))
    curve = curves(members[0], grid)
    simulated_ns = np.array([int(r["workers"]) for r in members])
    for ax, (column, _) in zip(axes, PANELS):
        good = np.array([not _failed_here(r, column) for r in members])
        if column in curve:
            ax.plot(grid, curve[column], color=colour, linewidth=1.4, label=label if column == "messages" else None)
        for name in (k for k in curve if k.startswith(f"{column} (")):
            ax.plot(grid, curve[name], color=colour, linewidth=1.2, linestyle="--")
        values = np.array([float(r[column]) for r in members])
        unlabelled = column == "messages" and column not in curve  # no curve (a collective's forms need routes)
        ax.plot(simulated_ns[good], values[good], linestyle="none", marker=marker, color=colour,
                markeredgecolor="black", markeredgewidth=0.6, markersize=6, label=label if unlabelled else None)
        if (~good).any():
            ax.plot(simulated_ns[~good], values[~good], linestyle="none", marker="x", color="black", markersize=8)


def _check_failed(row: dict, column: str) -> bool | None:
    """Whether the check of one panel's quantity failed at this point; None when the row does not say."""
    if column == "makespan_s":
        return row.get("makespan_status") == "FAIL" if row.get("makespan_status") else None
    expected = row.get(f"expected_{column}")
    if not expected or not row.get(column):
        return None
    return float(row[column]) != float(expected)


def _failed_here(row: dict, column: str) -> bool:
    """Mark a failed point on the panel whose check failed only; a failure no panel shows (another
    check) marks it on every panel."""
    if row["ok"] == "true":
        return False
    own = {c: _check_failed(row, c) for c, _ in PANELS}
    return bool(own[column]) or not any(own.values())


def _labels(keys: list[tuple]) -> dict[tuple, str]:
    """A line's label: its strategy, plus the inputs that tell it apart from the other lines."""
    varying = [i for i in range(1, len(INPUTS) + 1) if len({k[i] for k in keys}) > 1]
    return {k: k[0] + "".join(f", {INPUTS[i - 1]}={k[i]}" for i in varying) for k in keys}
