"""One rematerialization measurement, in its own process: ``python -m distsim.bench.remat_child KIND N``.

KIND is a schedule (planned with its default parameters and simulated for N
layers; the run must reconcile), ``plan_optimal`` (the binomial planner alone,
N layers, 30 slots) or ``bare`` (the baseline: a SimPy loop of N timeouts).
Prints one JSON line: wall time, ops, recomputations, the plan, and the
process's peak resident memory (which includes the interpreter and numpy).
"""

from __future__ import annotations

import sys
import time

from distsim.bench.measure import report
from distsim.bench.remat import PLANNER_SLOTS


def _scenario(kind: str, layers: int, extra: str = ""):
    import distsim

    return distsim.loads(
        "cluster: {workers: 1, memory: {load_latency: 10 ns}, disk: {load_latency: 50 ns}}\n"
        f"model: {{layers: {layers}, layer: {{fwd_time: 20 ns, bwd_time: 40 ns, activation: 4 MiB}}}}\n"
        f"strategy: {{kind: {kind}{extra}}}\nrun: {{verify_payload: false}}\n",
        "<bench>",
    )


def simulate(kind: str, layers: int) -> dict:
    """Plan and simulate one step of ``kind`` (default parameters); the run must reconcile."""
    import distsim

    scenario, where = _scenario(kind, layers)
    start = time.perf_counter()
    (outcome,) = distsim.run(scenario, where)
    wall = time.perf_counter() - start
    assert outcome.ok, f"benchmark run of {kind} does not reconcile"
    sim = outcome.reconciliation.simulated
    return {"wall_s": wall, "ops": len(outcome.trace.ops), "fwd_ops": sim["fwd_ops"],
            "plan": outcome.trace.meta["schedule"]}


def plan(layers: int, slots: int = PLANNER_SLOTS) -> dict:
    """Only the binomial planner: the schedule for ``layers`` layers and ``slots`` checkpoints."""
    from distsim.remat.chain import Chain
    from distsim.strategies.optimal import Optimal, forward_steps

    scenario, _ = _scenario("optimal", layers, f", slots: {slots}")
    chain = Chain.of(scenario)
    forward_steps.cache_clear()
    start = time.perf_counter()
    schedule = Optimal(Optimal.Params(slots=slots)).schedule(chain)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "ops": len(schedule), "fwd_ops": sum(op.kind == "fwd" for op in schedule.backward),
            "plan": schedule.summary}


def bare(ops: int) -> dict:
    """The baseline: a bare SimPy loop with one timeout per op, in one process (a schedule is one stream)."""
    import simpy

    env = simpy.Environment()

    def stream(env):
        for _ in range(ops):
            yield env.timeout(2e-8)

    env.process(stream(env))
    start = time.perf_counter()
    env.run()
    return {"wall_s": time.perf_counter() - start, "ops": ops, "fwd_ops": 0, "plan": "bare SimPy loop"}


def main() -> None:
    kind, size = sys.argv[1], int(sys.argv[2])
    if kind == "bare":
        report({**bare(size), "kind": kind})
        return
    layers = size
    row = plan(layers) if kind == "plan_optimal" else simulate(kind, layers)
    report({**row, "kind": kind, "layers": layers})


if __name__ == "__main__":
    main()
