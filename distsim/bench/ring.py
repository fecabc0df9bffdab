"""The ring suite: distsim's ring all-reduce against a bare SimPy loop, measured in the same run.

* ``ring``: ``distsim.run`` of a ring all-reduce of p = 1e9 parameters on a switch,
  full trace kept and reconciled (build, simulation and analysis).
* ``bare``: the baseline, a bare SimPy loop with one timeout per message: n
  processes, each yielding 2(n-1) timeouts, so its event queue has the ring's shape.

Each measurement is a child process (``python -m distsim.bench.ring KIND N``); the
two alternate, and the table reports medians and the ratio of the medians.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from distsim.bench.measure import in_child, report
from distsim.fmt import fmt_bytes, fmt_count, fmt_time
from distsim.report.tables import table


def bare_loop(n: int, steps: int | None = None) -> tuple[float, int]:
    """The baseline: the same number of events as a ring all-reduce (or n x ``steps``), and nothing else."""
    import simpy

    env = simpy.Environment()
    steps = 2 * (n - 1) if steps is None else steps

    def process(env):
        for _ in range(steps):
            yield env.timeout(1e-6)

    for _ in range(n):
        env.process(process(env))
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start, n * steps


def ring(n: int, params: float = 1e9) -> tuple[float, int]:
    import distsim

    scenario, where = distsim.loads(
        f"cluster: {{workers: {n}, network: {{topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}}}}\n"
        f"model: {{params: {params:g}}}\nstrategy: {{kind: ring_allreduce}}\nrun: {{verify_payload: false}}\n",
        "<bench>",
    )
    start = time.perf_counter()
    outcome = distsim.run(scenario, where)[0]
    wall = time.perf_counter() - start
    assert outcome.reconciliation.counts_ok, "benchmark run does not reconcile"
    return wall, len(outcome.trace.messages)


KINDS = {"bare": bare_loop, "ring": ring}


def ring_suite(sizes=(64, 256, 1024), repeat: int = 3, progress: Callable[[str], None] | None = None, **_) -> list[dict]:
    """One row per n: medians of ``repeat`` alternating measurements of the baseline and of distsim."""
    rows = []
    for n in sizes:
        bare, ours = [], []
        for i in range(repeat):
            if progress:
                progress(f"ring n={n}: repetition {i + 1}/{repeat}")
            bare.append(in_child(__name__, "bare", n))
            ours.append(in_child(__name__, "ring", n))
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
        "ratio_per_repetition": [x["wall_s"] / y["wall_s"] for x, y in zip(ours, bare)],
        "distsim_messages_per_s": messages / o,
        "bare_events_per_s": bare[0]["messages"] / b,
        "bare_peak_bytes": max(r["peak_bytes"] for r in bare),
        "distsim_peak_bytes": max(r["peak_bytes"] for r in ours),
    }


def ring_table(rows: list[dict]) -> str:
    """Medians, the ratio to the baseline measured in the same run, and peak memory."""
    body = [
        [r["n"], fmt_count(r["messages"]), fmt_time(r["bare_wall_s"]), fmt_time(r["distsim_wall_s"]),
         f"{r['ratio']:.2f}x", " ".join(f"{x:.2f}" for x in r["ratio_per_repetition"]),
         fmt_count(round(r["distsim_messages_per_s"])), f"{fmt_bytes(r['bare_peak_bytes'])} / {fmt_bytes(r['distsim_peak_bytes'])}"]
        for r in rows
    ]
    header = ["n", "messages", "bare loop", "distsim", "ratio", "per repetition", "distsim msg/s", "peak memory (bare / distsim)"]
    repeat = rows[0]["repeat"] if rows else 0
    return table(header, body) + f"\n(medians of {repeat} repetitions, each in its own process; ratio = distsim / bare loop)"


def main() -> None:
    kind, n = sys.argv[1], int(sys.argv[2])
    wall, messages = KINDS[kind](n)
    report({"kind": kind, "n": n, "wall_s": wall, "messages": messages})


if __name__ == "__main__":
    main()
