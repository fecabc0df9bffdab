"""The picture in docs/model.md: one contended case under cut_through and under flow.

    python benchmarks/model_figure.py docs/img/network-models.png

All-to-all of 100 MB messages among four workers, two on each of two switches joined
by one 100 Gbit/s trunk (the case of tests/test_network_models.py). One bar per
message, from when its first byte leaves its sender to when its last byte arrives.
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import distsim  # noqa: E402

SCENARIO = """\
cluster:
  workers: 4
  network: {{topology: graph, model: {model}, bandwidth: 100 Gbit/s, latency: 0 s, switches: [s0, s1],
    edges: [[0, s0], [1, s0], [2, s1], [3, s1], {{nodes: [s0, s1], bandwidth: 100 Gbit/s}}]}}
model: {{params: 25000000}}
strategy: {{kind: all_to_all}}
run: {{verify_payload: false}}
"""


def main(path: str) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, model in zip(axes, ("cut_through", "flow")):
        (outcome,) = distsim.run(*distsim.loads(SCENARIO.format(model=model), f"{model}.yaml"))
        m = outcome.trace.messages
        order = sorted(range(len(m)), key=lambda i: (int(m["src"][i]), int(m["dst"][i])))
        for row, i in enumerate(order):
            src, dst = int(m["src"][i]), int(m["dst"][i])
            crosses = src // 2 != dst // 2
            ax.barh(row, (m["t_arrive"][i] - m["t_start"][i]) * 1e3, left=m["t_start"][i] * 1e3, height=0.7,
                    color="#c0504d" if crosses else "#4f81bd")
        ax.set_yticks(range(len(order)), [f"w{int(m['src'][i])}->w{int(m['dst'][i])}" for i in order])
        ax.set_xlabel("simulated time (ms)")
        ax.set_title(f"{model}: makespan {outcome.trace.makespan * 1e3:.3g} ms", loc="left", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_yaxis()  # shared: once for both
    axes[0].text(0.99, 0.02, "red: across the trunk\nblue: within a switch", transform=axes[0].transAxes,
                 ha="right", va="bottom", fontsize=8)
    fig.suptitle("All-to-all, 2 + 2 workers on two switches, 100 MB messages, 100 Gbit/s everywhere", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/img/network-models.png")
