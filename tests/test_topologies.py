"""User graphs: routes are shortest paths, slower routes are explained, broken graphs are located errors."""

from __future__ import annotations

import pytest

import distsim
from distsim.errors import ScenarioError

TWO_SWITCHES = """\
cluster:
  workers: 8
  network:
    topology: graph
    bandwidth: 100 Gbit/s
    latency: 1 us
    switches: [s0, s1]
    edges:
      - [0, s0]
      - [1, s0]
      - [2, s0]
      - [3, s0]
      - [4, s1]
      - [5, s1]
      - [6, s1]
      - [w7, s1]
      - {nodes: [s0, s1], bandwidth: 25 Gbit/s, latency: 3 us}
model: {params: 8000}
strategy: {kind: ring_allreduce}
"""


def test_a_two_switch_graph_routes_over_the_slow_trunk_and_says_so():
    (outcome,) = distsim.run(*distsim.loads(TWO_SWITCHES))
    trace = outcome.trace
    names = {key: [trace.links[i].name for i in ids] for key, ids in trace.routes.items()}
    assert names[(3, 4)] == ["w3->s0", "s0->s1", "s1->w4"]
    assert names[(0, 1)] == ["w0->s0", "s0->w1"]
    assert outcome.result.verified and outcome.reconciliation.counts_ok
    status = {c.name: c.status for c in outcome.reconciliation.checks}
    assert status["makespan (contention-free alpha-beta)"] == "ok"  # the closed form uses each edge's route
    # Ring edges w3->w4 and w7->w0 cross the trunk (3 links, 25 Gbit/s), the other six take two
    # 100 Gbit/s links. Each rank's last chunk has come over 2(n-1) = 14 consecutive edges: the
    # slowest such run covers every edge twice except two neighbouring fast ones.
    chunk = 8000 // 8 * 4
    fast, slow = 2e-6 + chunk / (100e9 / 8), 5e-6 + chunk / (25e9 / 8)
    assert trace.makespan == pytest.approx(10 * fast + 4 * slow, rel=1e-12)


def test_a_worker_no_cable_reaches_is_a_located_error():
    text = TWO_SWITCHES.replace("      - [w7, s1]\n", "")
    with pytest.raises(ScenarioError, match=r"cluster\.network\.edges: no cable connects w7 to w0"):
        distsim.run(*distsim.loads(text, "two.yaml"))


@pytest.mark.parametrize("topology", ["ring", "fully_connected"])
def test_every_topology_gives_the_exam_counts(topology):
    text = TWO_SWITCHES.split("  network:")[0] + f"  network: {{topology: {topology}, bandwidth: 10 GB/s}}\nmodel: {{params: 800}}\n"
    for kind, count in (("all_to_all", 56), ("parameter_server", 16), ("ring_allreduce", 112)):
        (outcome,) = distsim.run(*distsim.loads(text + f"strategy: {{kind: {kind}}}\n"))
        assert len(outcome.trace.messages) == count and outcome.result.verified
