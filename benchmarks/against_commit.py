"""Ring all-reduce at n workers: a bare SimPy loop, an older checkout of distsim and this one, alternating.

    git worktree add /tmp/old 6215b72          # the code before the network engine (issue 7)
    python benchmarks/against_commit.py /tmp/old --n 1024 --repeat 3

Each measurement is a child process of this interpreter (so both checkouts run on the same
SimPy and numpy); medians and ratios of wall time, and the peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r'''
import json, resource, sys, time
which, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, path)
import simpy
if which == "bare":
    env = simpy.Environment()
    def rank(env):
        for _ in range(2 * (n - 1)):
            yield env.timeout(1e-6)
    for _ in range(n):
        env.process(rank(env))
    start = time.perf_counter(); env.run(); wall = time.perf_counter() - start
else:
    import distsim
    assert distsim.__file__.startswith(path), distsim.__file__
    scenario, where = distsim.loads(
        f"cluster: {{workers: {n}, network: {{topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}}}}\n"
        f"model: {{params: 1e9}}\nstrategy: {{kind: ring_allreduce}}\nrun: {{verify_payload: false}}\n", "<bench>")
    start = time.perf_counter(); outcome = distsim.run(scenario, where)[0]; wall = time.perf_counter() - start
    assert outcome.reconciliation.ok
print(json.dumps({"wall": wall, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="a checkout of the older commit")
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = {"bare": Path(__file__).resolve().parent.parent, "old": args.old.resolve(),
             "this": Path(__file__).resolve().parent.parent}
    runs: dict[str, list[dict]] = {which: [] for which in paths}
    for _ in range(args.repeat):
        for which, path in paths.items():
            out = subprocess.run([sys.executable, "-c", CHILD, which, str(args.n), str(path)], capture_output=True,
                                 text=True, cwd="/", check=True)
            runs[which].append(json.loads(out.stdout))
    median = {which: statistics.median(r["wall"] for r in rows) for which, rows in runs.items()}
    for which, rows in runs.items():
        walls = ", ".join(f"{r['wall']:.2f}" for r in rows)
        print(f"{which:<5} median {median[which]:.3f} s  ({walls})  peak RSS {max(r['rss'] for r in rows) / 1e6:.0f} MB"
              + (f"  {median[which] / median['bare']:.2f}x bare" if which != "bare" else ""))
    print(f"this / old = {median['this'] / median['old']:.2f}x  (ring all-reduce, n = {args.n})")


if __name__ == "__main__":
    main()
