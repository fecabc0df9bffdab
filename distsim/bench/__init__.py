"""Benchmarks: distsim against a baseline measured in the same run, on a noisy shared machine.

Each measurement runs in a fresh child process (so that its peak memory is its
own; see ``measure.py``), compared runs alternate, and results are medians over
the repetitions with ratios of medians. ``SUITES`` maps a suite's name to the
function that measures it (one row per point) and the one that prints its rows.
"""

from __future__ import annotations

from collections.abc import Callable

from distsim.bench.collectives import collectives_suite, collectives_table
from distsim.bench.remat import remat_suite, remat_table
from distsim.bench.ring import flow_suite, flow_table, ring_suite, ring_table
from distsim.bench.sweep import sweep_suite, sweep_table

SUITES: dict[str, tuple[Callable[..., list[dict]], Callable[[list[dict]], str]]] = {
    "ring": (ring_suite, ring_table),
    "flow": (flow_suite, flow_table),
    "remat": (remat_suite, remat_table),
    "sweep": (sweep_suite, sweep_table),
    "collectives": (collectives_suite, collectives_table),
}

__all__ = ["SUITES"]
