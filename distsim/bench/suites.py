"""Benchmark suites: each measures distsim beside a baseline, alternating, in child processes."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Callable


def measure(kind: str, n: int) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON line."""
    out = subprocess.run(
        [sys.executable, "-m", "distsim.bench.child", kind, str(n)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def ring_suite(sizes=(64, 256, 1024), repeat: int = 3, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Ring all-reduce (p = 1e9, full trace) vs a bare SimPy loop with one timeout per message."""
    rows = []
    for n in sizes:
        bare, ours = [], []
        for i in range(repeat):
            if progress:
                progress(f"ring n={n}: repetition {i + 1}/{repeat}")
            bare.append(measure("bare", n))
            ours.append(measure("ring", n))
        rows.append(_row(n, bare, ours))
    return rows


def _row(n: int, bare: list[dict], ours: list[dict]) -> dict:
    b = statistics.median(r["wall_s"] for r in bare)
    o = statistics.median(r["wall_s"] for r in ours)
    messages = ours[0]["messages"]
    return {
        "suite": "ring",
        "n": n,
        "messages": messages,
        "repeat": len(ours),
        "bare_wall_s": b,
        "distsim_wall_s": o,
        "ratio": o / b,
        "ratio_per_repetition_median": statistics.median(x["wall_s"] / y["wall_s"] for x, y in zip(ours, bare)),
        "distsim_messages_per_s": messages / o,
        "bare_events_per_s": bare[0]["messages"] / b,
        "bare_peak_bytes": max(r["peak_bytes"] for r in bare),
        "distsim_peak_bytes": max(r["peak_bytes"] for r in ours),
    }


from distsim.bench.remat import remat_suite  # noqa: E402
from distsim.bench.sweep import sweep_suite  # noqa: E402

SUITES: dict[str, Callable[..., list[dict]]] = {"ring": ring_suite, "remat": remat_suite, "sweep": sweep_suite}


def run_suite(name: str, **options) -> list[dict]:
    return SUITES[name](**options)
