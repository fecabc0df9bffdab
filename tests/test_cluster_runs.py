"""Strategies on clusters of nodes: every topology runs with real payloads verified and reconciles."""

from __future__ import annotations

import pytest

import distsim
from distsim.errors import ScenarioError
from distsim.runner import run_communication
from distsim.strategies.ring_allreduce import RingAllReduce

TAIL = "model: {params: 5040, dtype: fp32}\nstrategy: {kind: ring_allreduce}\nrun: {verify_payload: true}\n"
INTRA = "  intra: {bandwidth: 450 GB/s, latency: 1 us}\n"

FABRICS = {
    "switch": "  nodes: 2\n  gpus_per_node: 4\n" + INTRA + "  inter: {bandwidth: 50 GB/s, latency: 2 us, nics_per_node: 2}\n",
    "rail_optimized (PXN)": "  nodes: 3\n  gpus_per_node: 2\n" + INTRA
    + "  inter: {topology: rail_optimized, nics_per_node: 2, bandwidth: 50 GB/s, latency: 2 us}\n",
    "rail_optimized with spines": "  nodes: 4\n  gpus_per_node: 2\n" + INTRA
    + "  inter: {topology: rail_optimized, nics_per_node: 2, spines: 2, bandwidth: 50 GB/s, latency: 2 us}\n",
    "fat_tree": "  nodes: 8\n  inter: {topology: fat_tree, k: 4, oversubscription: 2, bandwidth: 50 GB/s, latency: 2 us}\n",
    "torus": "  gpus_per_node: 2\n" + INTRA + "  inter: {topology: torus, dims: [2, 3], bandwidth: 50 GB/s, latency: 2 us}\n",
    "graph": "  nodes: 3\n  inter:\n    topology: graph\n    bandwidth: 50 GB/s\n    latency: 2 us\n"
    "    edges: [[0, s], [1, s], [1, t], [2, t]]\n",
    "one node (preset)": "  preset: dgx-h100\n",
}


@pytest.mark.parametrize("name", FABRICS)
def test_ring_allreduce_on_every_fabric_holds_the_exact_mean_and_reconciles(name):
    (outcome,) = distsim.run(distsim.loads("cluster:\n" + FABRICS[name] + TAIL, "c.yaml")[0])
    n = outcome.result.scenario.cluster.workers
    assert outcome.result.verified  # every worker's result was checked against the exact mean
    assert len(outcome.trace.messages) == 2 * n * (n - 1)
    assert outcome.ok, [(c.name, c.expected, c.simulated, c.status) for c in outcome.reconciliation.checks]


@pytest.mark.parametrize("model", ["store_and_forward", "flow"])
@pytest.mark.parametrize("name", ["rail_optimized (PXN)", "fat_tree", "torus"])
def test_every_network_model_runs_on_a_cluster(name, model):
    text = "cluster:\n" + FABRICS[name] + f"  network_model: {model}\n" + TAIL
    (outcome,) = distsim.run(distsim.loads(text)[0])
    assert outcome.trace.network == model and outcome.result.verified and outcome.ok


def test_network_model_belongs_to_clusters_of_nodes():
    with pytest.raises(ScenarioError, match=r"cluster.network_model: a flat cluster sets its model in 'network'"):
        distsim.loads("cluster: {workers: 2, network: {bandwidth: 1}, network_model: flow}\n" + TAIL)
    flat, _ = distsim.loads("cluster: {workers: 2, network: {bandwidth: 1, model: flow}}\n" + TAIL)
    assert flat.cluster.network_model == "flow"


def test_one_node_is_a_flat_switch_exactly():
    (outcome,) = distsim.run(distsim.loads("cluster:\n" + FABRICS["one node (preset)"] + TAIL)[0])
    makespan = next(c for c in outcome.reconciliation.checks if c.name.startswith("makespan"))
    assert makespan.status == "ok"  # 2(n-1)(alpha + p s/(n beta)) to the last bit, not just explained
    assert makespan.simulated == pytest.approx(14 * (0.6e-6 + 2520 / 360e9), rel=1e-15)


def test_two_nodes_of_one_gpu_take_two_hops_of_the_fabric_each_step():
    text = "cluster:\n  nodes: 2\n  inter: {bandwidth: 10 GB/s, latency: 3 us, efficiency: 0.5}\n" + TAIL
    (outcome,) = distsim.run(distsim.loads(text)[0])
    chunk = 5040 * 4 / 2
    assert outcome.trace.makespan == pytest.approx(2 * (3e-6 + chunk / 5e9), rel=1e-12)


def test_other_strategies_run_on_a_cluster():
    text = ("cluster:\n" + FABRICS["rail_optimized (PXN)"] + "model: {params: 5000}\n"
            "strategy: [{kind: all_to_all}, {kind: parameter_server, server: 3}]\nrun: {verify_payload: true}\n")
    outcomes = distsim.run(distsim.loads(text)[0])
    assert [len(o.trace.messages) for o in outcomes] == [6 * 5, 2 * 5]
    assert all(o.result.verified and o.ok for o in outcomes)


def test_a_dedicated_server_is_refused_in_a_cluster_of_nodes():
    text = "cluster:\n" + FABRICS["switch"] + "model: {params: 5000}\nstrategy: {kind: parameter_server}\n"
    with pytest.raises(ScenarioError, match=r"c.yaml:\d+:\d+: strategy.server: a cluster of nodes has no machine"):
        distsim.loads(text, "c.yaml")  # found by validate, before anything runs


def test_a_graph_fabric_that_leaves_a_node_out_is_a_located_error():
    text = "cluster:\n  nodes: 3\n  inter: {topology: graph, bandwidth: 1 GB/s, edges: [[0, s], [1, s]]}\n" + TAIL
    with pytest.raises(ScenarioError, match=r"c.yaml:3:\d+: cluster.inter.edges: no cable joins node2.nic0 to node0.nic0"):
        distsim.loads(text, "c.yaml")


def test_strategies_see_the_ranks_of_each_node():
    scenario, where = distsim.loads("cluster:\n" + FABRICS["switch"] + TAIL)
    seen = []

    class Watching(RingAllReduce):
        def programs(self, job):
            seen.append(job.nodes)
            return super().programs(job)

    run_communication(scenario, Watching(), where)
    assert seen == [((0, 1, 2, 3), (4, 5, 6, 7))]
    flat, where = distsim.loads("cluster: {workers: 3, network: {bandwidth: 1 GB/s}}\n" + TAIL)
    run_communication(flat, Watching(), where)
    assert seen[-1] == ((0,), (1,), (2,))


def test_same_cluster_same_seed_same_trace():
    text = "cluster:\n" + FABRICS["fat_tree"] + TAIL
    first, second = (distsim.run(distsim.loads(text)[0])[0].trace for _ in range(2))
    for column, values in first.messages.columns().items():
        assert (values == second.messages[column]).all(), column
