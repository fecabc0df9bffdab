"""The cluster vocabulary: nodes x gpus_per_node, intra/inter tiers, presets and their overrides, located errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

import distsim
from distsim.errors import ScenarioError
from distsim.scenario.presets import PRESET_DIR, PRESET_KEYS, preset_file, preset_names
from distsim.sweep.grid import base_document

ROOT = Path(__file__).resolve().parent.parent
TAIL = "model: {params: 1000, dtype: fp32}\nstrategy: {kind: ring_allreduce}\n"


def load(cluster: str):
    scenario, _ = distsim.loads("cluster:\n" + cluster + TAIL, "c.yaml")
    return scenario.cluster


def problems(cluster: str) -> dict[str, object]:
    with pytest.raises(ScenarioError) as caught:
        distsim.loads("cluster:\n" + cluster + TAIL, "c.yaml")
    return {p.dotted_path: p for p in caught.value.problems}


def test_nodes_give_workers_and_ranks_keep_their_names():
    cluster = load("  nodes: 3\n  gpus_per_node: 4\n  intra: {bandwidth: 450 GB/s}\n  inter: {bandwidth: 400 Gbit/s}\n")
    assert (cluster.nodes, cluster.gpus_per_node, cluster.workers) == (3, 4, 12)
    assert cluster.intra.bandwidth == 450e9 and cluster.inter.bandwidth == 50e9
    assert cluster.network is None and cluster.topology_name == "cluster/switch"


def test_a_flat_cluster_is_unchanged():
    cluster = load("  workers: 4\n  network: {bandwidth: 1 GB/s}\n")
    assert (cluster.workers, cluster.nodes, cluster.gpus_per_node, cluster.topology_name) == (4, None, None, "switch")


def test_preset_fills_what_the_scenario_does_not_write():
    cluster = load("  preset: dgx-h100\n  nodes: 2\n  inter: {bandwidth: 200 Gbit/s}\n  gpu: {memory: 94 GB}\n")
    assert (cluster.nodes, cluster.gpus_per_node, cluster.workers) == (2, 8, 16)
    assert cluster.inter.bandwidth == 25e9  # overridden
    assert (cluster.inter.topology, cluster.inter.nics_per_node, cluster.inter.efficiency) == ("rail_optimized", 8, 0.96)
    assert cluster.gpu.memory == 94e9 and cluster.gpu.flops == 989e12 and cluster.gpu.memory_bandwidth == 3.35e12
    assert (cluster.intra.bandwidth, cluster.intra.latency, cluster.intra.efficiency) == (450e9, 0.6e-6, 0.8)


def test_a_preset_alone_is_one_node_and_a_torus_preset_its_whole_torus():
    assert load("  preset: dgx-h100\n").workers == 8
    torus = load("  preset: tpu-v5e\n")
    assert (torus.nodes, torus.workers, torus.inter.dims) == (256, 256, [16, 16])
    smaller = load("  preset: tpu-v5e\n  inter: {dims: [4, 4]}\n")
    assert smaller.workers == 16


def test_null_removes_a_preset_key():
    cluster = load("  preset: dgx-h100\n  nodes: 2\n  inter: {efficiency: null}\n")
    assert cluster.inter.efficiency == 1.0


def test_only_written_keys_count_as_set_so_a_sweep_point_re_merges_its_preset():
    text = "cluster:\n  preset: dgx-h100\n  nodes: 2\n  inter: {latency: 5 us}\n" + TAIL
    scenario, _ = distsim.loads(text)
    document = base_document(scenario)
    assert document["cluster"] == {"preset": "dgx-h100", "nodes": 2, "inter": {"latency": 5e-6}}
    document["cluster"]["preset"] = "hgx-a100"
    again, _ = distsim.loads(yaml.safe_dump(document))
    assert again.cluster.inter.bandwidth == 25e9 and again.cluster.inter.latency == 5e-6  # hgx's NICs, our latency


def test_unknown_preset_is_located_with_did_you_mean():
    found = problems("  preset: dgx-h10\n  nodes: 2\n")
    problem = found["cluster.preset"]
    assert (problem.line, problem.column) == (2, 11)
    assert problem.message.endswith("found 'dgx-h10' (did you mean 'dgx-h100'?)")
    assert all(name in problem.message for name in preset_names())


@pytest.mark.parametrize(
    "cluster, path, line, words",
    [
        ("  preset: tpu-v5e\n  nodes: 8\n", "cluster", 2, "16 x 16 torus has 256 vertices but the cluster has 8 nodes "
         "(one node per vertex) (inter.dims comes from preset 'tpu-v5e')"),
        ("  nodes: 4\n  inter: {topology: torus, bandwidth: 1 GB/s, dims: [2, 3]}\n", "cluster.inter.dims", 3, "2 x 3 torus has 6"),
        ("  nodes: 4\n  inter: {topology: torus, bandwidth: 1 GB/s}\n", "cluster.inter", 3, "needs 'dims'"),
        ("  nodes: 4\n  inter: {topology: torus, bandwidth: 1 GB/s, dims: [1, 1, 2, 2]}\n", "cluster.inter.dims", 3, "1 to 3 dimensions"),
        ("  nodes: 4\n  inter: {topology: switch, bandwidth: 1 GB/s, dims: [4]}\n", "cluster.inter.dims", 3, "only used with topology 'torus'"),
        ("  nodes: 4\n  inter: {topology: fat_tree, bandwidth: 1 GB/s, k: 3}\n", "cluster.inter.k", 3, "even k"),
        ("  nodes: 40\n  inter: {topology: fat_tree, bandwidth: 1 GB/s, k: 4}\n", "cluster.inter.k", 3, "holds 16 NICs, the cluster has 40 (k = 6"),
        ("  nodes: 2\n  gpus_per_node: 4\n  intra: {bandwidth: 1 GB/s}\n  inter: {bandwidth: 1 GB/s, nics_per_node: 3}\n",
         "cluster.inter.nics_per_node", 5, "must divide gpus_per_node"),
        ("  nodes: 2\n  gpus_per_node: 4\n  inter: {bandwidth: 1 GB/s}\n", "cluster.intra", 1, "missing required key 'intra': the links"),
        ("  nodes: 2\n  intra: {bandwidth: 1 GB/s}\n", "cluster.inter", 1, "missing required key 'inter': the fabric between nodes"),
        ("  nodes: 2\n  workers: 3\n  inter: {bandwidth: 1 GB/s}\n", "cluster.workers", 3, "nodes x gpus_per_node = 2"),
        ("  nodes: 2\n  inter: {bandwidth: 1 GB/s}\n  network: {bandwidth: 1 GB/s}\n", "cluster.network", 4, "'intra' and 'inter'"),
        ("  nodes: 2048\n  gpus_per_node: 1024\n  intra: {bandwidth: 1 GB/s}\n  inter: {bandwidth: 1 GB/s}\n", "cluster.nodes", 2, "at most 1,048,576"),
        ("  preset: dgx-h100\n  intra: {efficiency: 1.5}\n", "cluster.intra.efficiency", 3, "less than or equal to 1"),
    ],
)
def test_rules_that_relate_fields_are_located_at_the_field(cluster, path, line, words):
    found = problems(cluster)
    assert path in found, found
    assert found[path].line == line and words in found[path].message, found[path]


def test_graph_fabric_names_are_checked():
    found = problems("  nodes: 3\n  inter:\n    topology: graph\n    bandwidth: 1 GB/s\n"
                     "    edges: [[0, s], [5, s], [w1, s], [node2.nic1, s], [node2.nic0, s]]\n")
    assert found["cluster.inter.edges.1.0"].message.startswith("node 5 does not exist (nodes are 0..2)")
    assert "inside a node" in found["cluster.inter.edges.2.0"].message
    assert found["cluster.inter.edges.3.0"].message.startswith("node 2 has NICs nic0..nic0, not nic1")
    assert len(found) == 3


def test_one_node_needs_no_fabric_whatever_the_preset_says():
    cluster = load("  preset: dgx-h100\n  gpus_per_node: 4\n")  # 8 NICs for 4 GPUs: unused with one node
    assert cluster.workers == 4 and cluster.topology_name == "switch"


def test_every_preset_file_is_a_valid_cited_cluster():
    assert {"dgx-h100", "hgx-a100", "tpu-v5e"} <= set(preset_names())
    for name in preset_names():
        data = preset_file(name)
        assert tuple(data) == PRESET_KEYS, name
        assert data["summary"] and all(": " in source for source in data["sources"]), name  # "what: figure, where"
        assert any("https://" in source for source in data["sources"]), name
        assert load(f"  preset: {name}\n").workers >= 1


def test_presets_ship_with_the_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["distsim.scenario"]
    shipped = {path for pattern in patterns for path in (ROOT / "distsim" / "scenario").glob(pattern)}
    assert shipped == set(PRESET_DIR.glob("*.yaml"))


def test_bandwidth_is_per_direction_vendor_totals_are_halved():
    h100 = preset_file("dgx-h100")
    assert "900 GB/s total per GPU = 450 GB/s per direction" in " ".join(h100["sources"])
    assert load("  preset: dgx-h100\n").intra.bandwidth == 900e9 / 2
