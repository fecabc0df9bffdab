"""Rematerialization benchmark: one backward pass of L = 1000 layers under every schedule, and
the optimal planner alone for L = 1000 with 30 slots.

Each measurement runs in a fresh interpreter (``python -m distsim.bench.remat_child KIND L``),
as every suite does (:mod:`distsim.bench.measure`), so that its peak memory is its own. A
schedule's row times planning plus simulation (one SimPy op per schedule op,
the full op trace kept; no numpy gradient check); the planner row times
``optimal``'s planning alone. Rows report medians over the repetitions.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

from distsim.bench.measure import in_child
from distsim.fmt import fmt_bytes, fmt_count, fmt_time
from distsim.report.tables import table

LAYERS = 1000
PLANNER_SLOTS = 30
SCHEDULES = ("store_all", "checkpoint_every_k", "segment_recompute", "checkpoint_sequential", "disk_offload", "optimal")


def remat_suite(repeat: int = 3, progress: Callable[[str], None] | None = None, layers: int = LAYERS, **_) -> list[dict]:
    """Every schedule simulated for ``layers`` layers, then the planner alone (``layers``, 30 slots).

    Beside each simulated schedule, measured in the same run and alternating with it:
    a bare SimPy loop that yields one timeout per op of that schedule.
    """
    rows = []
    for kind in SCHEDULES + ("plan_optimal",):
        runs, bare = [], []
        for i in range(repeat):
            if progress:
                progress(f"remat {kind} L={layers}: repetition {i + 1}/{repeat}")
            runs.append(in_child("distsim.bench.remat_child", kind, layers))
            if kind != "plan_optimal":
                bare.append(in_child("distsim.bench.remat_child", "bare", runs[-1]["ops"]))
        wall = statistics.median(r["wall_s"] for r in runs)
        bare_wall = statistics.median(r["wall_s"] for r in bare) if bare else None
        rows.append({
            "suite": "remat", "kind": kind, "layers": layers, "repeat": repeat, "wall_s": wall,
            "ops": runs[0]["ops"], "ops_per_s": runs[0]["ops"] / wall if wall else float("inf"),
            "bare_wall_s": bare_wall, "ratio": wall / bare_wall if bare_wall else None,
            "fwd_ops": runs[0]["fwd_ops"], "peak_bytes": max(r["peak_bytes"] for r in runs), "plan": runs[0]["plan"],
        })
    return rows


def remat_table(rows: list[dict]) -> str:
    """The benchmark rows as a table (medians of the repetitions)."""
    body = [[r["kind"] if r["kind"] != "plan_optimal" else f"optimal: planning only ({PLANNER_SLOTS} slots)",
             fmt_count(r["layers"]), fmt_count(r["ops"]), fmt_count(r["fwd_ops"]), fmt_time(r["wall_s"]),
             fmt_time(r.get("bare_wall_s")), f"{r['ratio']:.2f}x" if r.get("ratio") else "-",
             fmt_count(round(r["ops_per_s"])), fmt_bytes(r["peak_bytes"])] for r in rows]
    header = ["schedule", "L", "ops", "recomputations", "wall time", "bare loop", "ratio", "ops/s", "peak memory (process)"]
    note = "medians of %d repetitions, each in its own process; bare loop = one SimPy timeout per op, same run"
    return table(header, body) + "\n(" + note % (rows[0]["repeat"] if rows else 0) + ")"
