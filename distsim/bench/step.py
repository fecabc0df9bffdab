"""The step suite: one training step of the bundled 7B scenario on 64 GPUs, and the same step on more
GPUs, beside a bare SimPy loop with as many events, measured in the same run.

* ``step``: ``scenarios/gpt7b_64gpu.yaml`` run and reconciled as ``distsim run`` does (build,
  simulation, the payload check at 64 GPUs, analysis). At n = 64 it is the scenario as
  written (ZeRO-1, 25 MiB buckets); at other n it has n / 8 nodes and buckets of 10^6 x n
  elements, Megatron-LM's rule for its distributed optimizer (``bucket_size = max(40M,
  1M x dp)`` elements, megatron/core/distributed/distributed_data_parallel_config.py):
  with 25 MiB buckets on 1,024 ranks each rank's shard of a bucket is 25 KiB, every
  reduce-scatter is latency-bound, and 1,016 collectives on 1,024 ranks are 10.4 M
  messages: about 6 minutes to simulate (measured with 25 MiB buckets: 18 s at 128 GPUs,
  0.9 M messages; 40 s at 256, 2.1 M; 352 s at 1,024).
* ``bare``: n processes yielding, in all, as many timeouts as the step had messages and ops.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from distsim.bench import ring
from distsim.bench.measure import in_child, report
from distsim.errors import InputError
from distsim.fmt import fmt_bytes, fmt_count, fmt_time
from distsim.report.tables import table

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "gpt7b_64gpu.yaml"
PER_NODE, BUNDLED = 8, 64
MEGATRON_ELEMENTS_PER_RANK = 10**6


def scenario_text(n: int) -> str:
    """The bundled scenario, scaled to n GPUs (n / 8 nodes, Megatron-LM's bucket rule) unless n = 64."""
    if not SCENARIO.exists():
        raise InputError(f"the step suite runs {SCENARIO.name}, which this installation does not have "
                         "(run it from a source checkout)")
    text = SCENARIO.read_text(encoding="utf-8")
    if n == BUNDLED:
        return text
    bucket = MEGATRON_ELEMENTS_PER_RANK * n * 2  # bf16 elements
    lines = [f"  nodes: {n // PER_NODE}" if line.startswith("  nodes:") else
             f"  bucket: {bucket} B  # Megatron-LM: 1e6 x {n} elements" if line.startswith("  bucket:") else line
             for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def step(n: int) -> dict:
    from distsim import api

    with ring.Timer() as timer:
        (outcome,) = api.run(api.prepare(f"<step n={n}>", scenario_text(n)))
    assert outcome.ok, "benchmark run does not reconcile"
    return {"wall_s": timer.wall, "cpu_s": timer.cpu, "messages": len(outcome.trace.messages), "ops": len(outcome.trace.ops),
            "buckets": outcome.trace.meta["buckets"], "step_s": outcome.trace.makespan, "verified": outcome.result.verified}


def bare(n: int, events: int) -> dict:
    timer, count = ring.bare_loop(n, max(1, events // n))
    return {"wall_s": timer.wall, "cpu_s": timer.cpu, "events": count}


def step_suite(sizes=(BUNDLED, 1024), repeat: int = 3, progress: Callable[[str], None] | None = None, **_) -> list[dict]:
    """One row per n (GPUs, a multiple of 8): medians of alternating measurements."""
    rows = []
    for n in sizes:
        if n % PER_NODE:
            raise InputError(f"n = {n}: the step suite needs a multiple of {PER_NODE} GPUs")
        ours, base = [], []
        for i in range(repeat):
            if progress:
                progress(f"step n={n}: repetition {i + 1}/{repeat}")
            ours.append(in_child(__name__, "step", n))
            base.append(in_child(__name__, "bare", n, ours[-1]["messages"] + ours[-1]["ops"]))
        o, b = (statistics.median(r["wall_s"] for r in runs) for runs in (ours, base))
        oc, bc = (statistics.median(r["cpu_s"] for r in runs) for runs in (ours, base))
        first = ours[0]
        rows.append({"suite": "step", "n": n, "nodes": n // PER_NODE, "buckets": first["buckets"],
                     "messages": first["messages"], "ops": first["ops"], "step_s": first["step_s"],
                     "verified": first["verified"], "repeat": repeat, "bare_wall_s": b, "distsim_wall_s": o,
                     "ratio": o / b, "bare_cpu_s": bc, "distsim_cpu_s": oc, "cpu_ratio": oc / bc,
                     "distsim_peak_bytes": max(r["peak_bytes"] for r in ours)})
    return rows


def step_table(rows: list[dict]) -> str:
    body = [[f"{r['n']} ({r['nodes']} x {PER_NODE})", fmt_count(r["buckets"]), fmt_count(r["messages"]), fmt_count(r["ops"]),
             fmt_time(r["step_s"]), "yes" if r["verified"] else "no", fmt_time(r["bare_wall_s"]), fmt_time(r["distsim_wall_s"]),
             f"{r['ratio']:.2f}x", fmt_time(r["distsim_cpu_s"]), f"{r['cpu_ratio']:.2f}x", fmt_bytes(r["distsim_peak_bytes"])]
            for r in rows]
    header = ["GPUs", "buckets", "messages", "ops", "simulated step", "payloads checked", "bare loop", "distsim (wall)",
              "ratio", "distsim (CPU)", "CPU ratio", "peak memory"]
    note = ("gpt7b_64gpu.yaml: ZeRO-1, checkpoint_every_k, auto; 64 GPUs as written (25 MiB buckets), other sizes with "
            "Megatron-LM's 1e6 x n-element buckets; load, simulate, verify, reconcile; medians, each run in its own process")
    return table(header, body) + f"\n({note})"


def main() -> None:
    kind, n = sys.argv[1], int(sys.argv[2])
    row = step(n) if kind == "step" else bare(n, int(sys.argv[3]))
    report({"kind": kind, "n": n, **row})


if __name__ == "__main__":
    main()
