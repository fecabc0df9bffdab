"""One measurement, in its own process: ``python -m distsim.bench.child KIND N``.

Prints one JSON line: wall time of the simulation loop, messages simulated, and
the process's peak resident memory (which includes the interpreter and numpy).
Kinds: ``bare`` (a bare SimPy loop: n processes, each yielding one timeout per
message it would receive in a ring all-reduce) and ``ring`` (distsim's ring
all-reduce of p = 1e9 parameters on a switch, full trace kept).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def bare_loop(n: int) -> tuple[float, int]:
    """The baseline: the same number of events as a ring all-reduce, and nothing else."""
    import simpy

    env = simpy.Environment()
    steps = 2 * (n - 1)

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


def main() -> None:
    kind, n = sys.argv[1], int(sys.argv[2])
    wall, messages = KINDS[kind](n)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    print(json.dumps({"kind": kind, "n": n, "wall_s": wall, "messages": messages, "peak_bytes": peak}))


if __name__ == "__main__":
    main()
