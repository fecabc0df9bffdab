"""distsim's network models beside SimGrid on the contended cases of issue 7.

    python benchmarks/simgrid_compare.py [--simgrid-python /usr/bin/python3]

For each case: the independent figure worked out by hand (tests/test_network_models.py
pins the same ones), distsim's ``flow`` and ``cut_through`` makespans, and SimGrid's
(CM02, no cross-traffic, unit factors, no TCP window bound) on exactly the same
platform and routes (``simgrid_run.py``). Needs a Python with SimGrid's bindings (on
Debian: ``apt install python3-simgrid``); without it the SimGrid column is left out.
Prints the markdown table docs/model.md shows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import distsim

HERE = Path(__file__).resolve().parent
GBIT = 1e9 / 8
T = 1e8 / (100 * GBIT)  # 100 MB over 100 Gbit/s


def two_switches(kind, trunk, placement, latency="0 s", params=25_000_000, extra=""):
    edges = [f"[{w}, s{side}]" for side, workers in enumerate(placement) for w in workers]
    return (f"cluster:\n  workers: {sum(map(len, placement))}\n  network: {{topology: graph, bandwidth: 100 Gbit/s, "
            f"latency: {latency}, switches: [s0, s1], edges: [{', '.join(edges)}, {{nodes: [s0, s1], bandwidth: {trunk}}}]}}\n"
            f"model: {{params: {params}}}\nstrategy: {{kind: {kind}{extra}}}\nrun: {{verify_payload: false}}\n")


def slow_access(n):
    edges = ", ".join(["{nodes: [0, sw], bandwidth: 25 Gbit/s}"] + [f"[{w}, sw]" for w in range(1, n)] + ["[ps, sw]"])
    return (f"cluster:\n  workers: {n}\n  network: {{topology: graph, bandwidth: 100 Gbit/s, latency: 1 us, switches: [sw], "
            f"edges: [{edges}]}}\nmodel: {{params: 25000000}}\nstrategy: {{kind: parameter_server}}\nrun: {{verify_payload: false}}\n")


CASES = [
    ("incast: 3 workers push to one server", "cluster:\n  workers: 3\n  network: {topology: switch, bandwidth: 100 Gbit/s, "
     "latency: 4 us}\nmodel: {params: 25000000}\nstrategy: {kind: parameter_server}\nrun: {verify_payload: false}\n",
     2 * (4e-6 + 3 * T)),
    ("all-to-all, 2 + 2 workers on two switches", two_switches("all_to_all", "100 Gbit/s", ((0, 1), (2, 3))), 4 * T),
    ("a slow cable: 2 pushes over a 25 Gbit/s trunk", two_switches("parameter_server", "25 Gbit/s", ((0, 1), (2,)),
                                                                     extra=", server: 2"), 2 * 8 * T),
    ("ring all-reduce n = 4 across a 100 Gbit/s trunk", two_switches("ring_allreduce", "100 Gbit/s", ((0, 2), (1, 3))), 12 * T / 4),
    ("ring all-reduce n = 4 across a 10 Tbit/s trunk", two_switches("ring_allreduce", "10 Tbit/s", ((0, 2), (1, 3)),
                                                                    latency="1 us"), 6 * (3e-6 + T / 4)),
    ("all-to-all on a physical ring, n = 5", "cluster:\n  workers: 5\n  network: {topology: ring, bandwidth: 100 Gbit/s, "
     "latency: 5 us}\nmodel: {params: 25000000}\nstrategy: {kind: all_to_all}\nrun: {verify_payload: false}\n", 3 * 8e-3 + 5e-6),
    ("parameter server, one worker on a 25 Gbit/s cable, n = 8", slow_access(8), 2 * (8 * T + 2e-6)),
]


def run(text: str, model: str):
    text = text.replace("network: {", f"network: {{model: {model}, ", 1)
    (outcome,) = distsim.run(*distsim.loads(text, "<case>"))
    return outcome


def programs(outcome) -> list[list]:
    """Each rank's sends and receives in program order, as the strategy's code does them."""
    kind, m = outcome.result.kind, outcome.trace.messages
    n = outcome.result.scenario.cluster.workers
    sizes = {}
    for src, dst, nbytes, step in zip(m["src"].tolist(), m["dst"].tolist(), m["nbytes"].tolist(), m["step"].tolist()):
        sizes.setdefault((src, dst), []).append(nbytes)
    if kind == "all_to_all":
        return [[("send", (r + k) % n, sizes[(r, (r + k) % n)][0]) for k in range(1, n)]
                + [("recv", (r - k) % n, 0) for k in range(1, n)] for r in range(n)]
    if kind == "ring_allreduce":
        out = []
        for r in range(n):
            steps = []
            for nbytes in sizes[(r, (r + 1) % n)]:
                steps += [("send", (r + 1) % n, nbytes), ("recv", (r - 1) % n, 0)]
            out.append(steps)
        return out
    server = n  # parameter_server: the rank after the workers
    workers = [w for w in range(n) if (w, server) in sizes]
    progs = [[("send", server, sizes[(w, server)][0]), ("recv", server, 0)] if w in workers else [] for w in range(n)]
    progs.append([("recv", w, 0) for w in workers] + [("send", w, sizes[(server, w)][0]) for w in workers])
    return progs


def simgrid(outcome, python: str) -> float:
    trace = outcome.trace
    spec = {
        "placement": trace.placement,
        "links": [[link.bandwidth, link.latency] for link in trace.links],
        "routes": [[a, b, list(ids)] for (a, b), ids in trace.routes.items()],
        "programs": programs(outcome),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    out = subprocess.run([python, str(HERE / "simgrid_run.py"), handle.name], check=True, capture_output=True, text=True)
    Path(handle.name).unlink()
    return json.loads(out.stdout.strip().splitlines()[-1])["makespan"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simgrid-python", default="/usr/bin/python3", help="a Python with SimGrid's bindings")
    args = parser.parse_args()
    print("| case | by hand | SimGrid 3.32 | distsim flow | flow vs SimGrid | distsim cut_through |")
    print("|---|---|---|---|---|---|")
    for name, text, expected in CASES:
        flow, cut = run(text, "flow"), run(text, "cut_through")
        try:
            reference = simgrid(flow, args.simgrid_python)
        except (OSError, subprocess.CalledProcessError):
            reference = float("nan")
        error = (flow.trace.makespan - reference) / reference
        print(f"| {name} | {expected * 1e3:.6g} ms | {reference * 1e3:.6g} ms | {flow.trace.makespan * 1e3:.6g} ms | "
              f"{error:+.1e} | {cut.trace.makespan * 1e3:.6g} ms |")


if __name__ == "__main__":
    main()
