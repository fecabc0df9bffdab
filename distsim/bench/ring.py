"""The ring suite: distsim's ring all-reduce against a bare SimPy loop, measured in the same run.

* ``ring``: ``distsim.run`` of a ring all-reduce of p = 1e9 parameters on a switch,
  full trace kept and reconciled (build, simulation and analysis).
* ``bare``: the baseline, a bare SimPy loop with one timeout per message: n
  processes, each yielding 2(n-1) timeouts, so its event queue has the ring's shape.
* ``flow``: the same ring all-reduce with ``network: {model: flow}`` (the ``flow``
  suite compares it with the default cut-through model, the "circuit" one).

Each measurement is a child process (``python -m distsim.bench.ring KIND N``); the
compared runs alternate, and the tables report medians and the ratio of the medians,
of wall time and of CPU time (user + system of the measured part: on a shared machine
the CPU time moves less than the wall time).
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
    with Timer() as timer:
        env.run()
    return timer, n * steps


class Timer:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def ring(n: int, params: float = 1e9, model: str = "cut_through") -> tuple[Timer, int]:
    import distsim

    scenario, where = distsim.loads(
        f"cluster: {{workers: {n}, network: {{topology: switch, model: {model}, bandwidth: 100 Gbit/s, latency: 5 us}}}}\n"
        f"model: {{params: {params:g}}}\nstrategy: {{kind: ring_allreduce}}\nrun: {{verify_payload: false}}\n",
        "<bench>",
    )
    with Timer() as timer:
        outcome = distsim.run(scenario, where)[0]
    assert outcome.reconciliation.ok, "benchmark run does not reconcile"
    return timer, len(outcome.trace.messages)


KINDS = {"bare": bare_loop, "ring": ring, "flow": lambda n: ring(n, model="flow")}


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
        "cpu_ratio": statistics.median(r["cpu_s"] for r in ours) / statistics.median(r["cpu_s"] for r in bare),
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
         f"{r['ratio']:.2f}x", f"{r['cpu_ratio']:.2f}x", " ".join(f"{x:.2f}" for x in r["ratio_per_repetition"]),
         fmt_count(round(r["distsim_messages_per_s"])), f"{fmt_bytes(r['bare_peak_bytes'])} / {fmt_bytes(r['distsim_peak_bytes'])}"]
        for r in rows
    ]
    header = ["n", "messages", "bare loop", "distsim", "ratio", "CPU ratio", "per repetition", "distsim msg/s",
              "peak memory (bare / distsim)"]
    repeat = rows[0]["repeat"] if rows else 0
    return table(header, body) + (f"\n(medians of {repeat} repetitions, each in its own process; ratio = distsim / bare loop, "
                                  "of wall time and of CPU time)")


def flow_suite(sizes=(64, 256, 1024), repeat: int = 3, progress: Callable[[str], None] | None = None, **_) -> list[dict]:
    """One row per n: the ring all-reduce as flows against the default (cut-through) model, alternating."""
    rows = []
    for n in sizes:
        circuit, flows = [], []
        for i in range(repeat):
            if progress:
                progress(f"flow n={n}: repetition {i + 1}/{repeat}")
            circuit.append(in_child(__name__, "ring", n))
            flows.append(in_child(__name__, "flow", n))
        c, f = (statistics.median(r["wall_s"] for r in runs) for runs in (circuit, flows))
        rows.append({
            "suite": "flow", "n": n, "messages": flows[0]["messages"], "repeat": repeat,
            "cut_through_wall_s": c, "flow_wall_s": f, "ratio": f / c,
            "cpu_ratio": statistics.median(r["cpu_s"] for r in flows) / statistics.median(r["cpu_s"] for r in circuit),
            "cut_through_peak_bytes": max(r["peak_bytes"] for r in circuit), "flow_peak_bytes": max(r["peak_bytes"] for r in flows),
        })
    return rows


def flow_table(rows: list[dict]) -> str:
    body = [[r["n"], fmt_count(r["messages"]), fmt_time(r["cut_through_wall_s"]), fmt_time(r["flow_wall_s"]),
             f"{r['ratio']:.2f}x", f"{r['cpu_ratio']:.2f}x", f"{fmt_bytes(r['cut_through_peak_bytes'])} / {fmt_bytes(r['flow_peak_bytes'])}"]
            for r in rows]
    header = ["n", "messages", "cut_through", "flow", "ratio", "CPU ratio", "peak memory (cut_through / flow)"]
    repeat = rows[0]["repeat"] if rows else 0
    return table(header, body) + f"\n(ring all-reduce on a switch; medians of {repeat} alternating repetitions; ratio = flow / cut_through)"


def main() -> None:
    kind, n = sys.argv[1], int(sys.argv[2])
    timer, messages = KINDS[kind](n)
    report({"kind": kind, "n": n, "wall_s": timer.wall, "cpu_s": timer.cpu, "messages": messages})


if __name__ == "__main__":
    main()
