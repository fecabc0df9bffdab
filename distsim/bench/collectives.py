"""The collectives suite: a hierarchical all-reduce of p = 1e9 parameters on nodes of 8 GPUs, beside a
bare SimPy loop with as many events, measured in the same run.

* ``hierarchical``: the collective library on n ranks in boxes of 8 (n/8 nodes) on a
  switch, full trace kept and reconciled against the closed forms (build, simulation
  and analysis): issue 8's 1,024-GPU (128 x 8) figure.
* ``bare``: n processes yielding as many timeouts, in total, as the run has messages.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from distsim.bench import ring
from distsim.bench.measure import in_child, report
from distsim.fmt import fmt_bytes, fmt_count, fmt_time
from distsim.report.tables import table

PER_NODE = 8
PARAMS = 10**9


def messages_of(n: int) -> int:
    """2N G(G-1) inside the nodes + 2G N(N-1) across them."""
    g, nodes = PER_NODE, n // PER_NODE
    return 2 * nodes * g * (g - 1) + 2 * g * nodes * (nodes - 1)


def bare_loop(n: int) -> tuple[float, int]:
    """n processes yielding, in all, as many timeouts as the hierarchical all-reduce sends messages."""
    timer, count = ring.bare_loop(n, messages_of(n) // n)
    return timer.wall, count


def hierarchical(n: int) -> tuple[float, int]:
    """``distsim.run`` of the scenario a user would write: the dgx-h100 preset, n / 8 nodes."""
    import distsim

    scenario, where = distsim.loads(
        f"cluster: {{preset: dgx-h100, nodes: {n // PER_NODE}}}\nmodel: {{params: {PARAMS}, dtype: bf16}}\n"
        "strategy: {kind: collective, op: all_reduce, algorithm: hierarchical}\nrun: {verify_payload: false}\n",
        "<bench>",
    )
    start = time.perf_counter()
    (outcome,) = distsim.run(scenario, where)
    wall = time.perf_counter() - start
    assert outcome.reconciliation.counts_ok, "benchmark run does not reconcile"
    return wall, len(outcome.trace.messages)


KINDS = {"bare": bare_loop, "hierarchical": hierarchical}


def collectives_suite(sizes=(1024,), repeat: int = 3, progress: Callable[[str], None] | None = None, **_) -> list[dict]:
    """One row per n (GPUs, a multiple of 8): medians of alternating measurements."""
    rows = []
    for n in sizes:
        bare, ours = [], []
        for i in range(repeat):
            if progress:
                progress(f"hierarchical n={n}: repetition {i + 1}/{repeat}")
            bare.append(in_child(__name__, "bare", n))
            ours.append(in_child(__name__, "hierarchical", n))
        b, o = statistics.median(r["wall_s"] for r in bare), statistics.median(r["wall_s"] for r in ours)
        rows.append({"suite": "collectives", "n": n, "nodes": n // PER_NODE, "messages": ours[0]["messages"],
                     "repeat": repeat, "bare_wall_s": b, "distsim_wall_s": o, "ratio": o / b,
                     "distsim_peak_bytes": max(r["peak_bytes"] for r in ours)})
    return rows


def collectives_table(rows: list[dict]) -> str:
    body = [[f"{r['n']} ({r['nodes']} x {PER_NODE})", fmt_count(r["messages"]), fmt_time(r["bare_wall_s"]),
             fmt_time(r["distsim_wall_s"]), f"{r['ratio']:.2f}x", fmt_bytes(r["distsim_peak_bytes"])] for r in rows]
    header = ["GPUs", "messages", "bare loop", "hierarchical all-reduce", "ratio", "peak memory"]
    return table(header, body) + "\n(p = 1e9 bf16, full trace, reconciled; medians, each run in its own process)"


def main() -> None:
    kind, n = sys.argv[1], int(sys.argv[2])
    if n % PER_NODE:
        raise SystemExit(f"n = {n}: the collectives suite needs a multiple of {PER_NODE} GPUs")
    wall, messages = KINDS[kind](n)
    report({"kind": kind, "n": n, "wall_s": wall, "messages": messages})


if __name__ == "__main__":
    main()
