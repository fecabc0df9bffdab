"""Cluster graphs: counts of switches and cables, degrees, route lengths, and that multi-path fabrics spread."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import pytest

from distsim.hardware.cluster import build_cluster, describe_cluster, link_figures, node_ranks
from distsim.hardware.routing import torus_coordinates, torus_index
from distsim.scenario.model import Cluster


def cluster(nodes, gpus=1, **inter) -> Cluster:
    inter.setdefault("bandwidth", "100 GB/s")
    spec = {"nodes": nodes, "gpus_per_node": gpus, "inter": inter}
    if gpus > 1:
        spec["intra"] = {"bandwidth": "450 GB/s", "latency": "1 us", "efficiency": 0.5}
    return Cluster.model_validate(spec)


def topology(c: Cluster):
    return build_cluster(c, [f"w{r}" for r in range(c.workers)])


def kinds(graph: nx.Graph) -> Counter:
    """How many graph nodes of each kind: gpu, node switch, nic, and fabric switches by their prefix."""
    def kind(name: str) -> str:
        if name.startswith("w"):
            return "gpu"
        if name.startswith("node"):
            return name.split(".")[1].rstrip("0123456789")
        return name.rstrip("0123456789")
    return Counter(kind(n) for n in graph)


def path_of(topo, a: int, b: int) -> list[str]:
    route = topo.route(a, b)
    return [topo.links[route.links[0]].src] + [topo.links[i].dst for i in route.links]


def test_switch_fabric_counts_degrees_and_routes():
    topo = topology(cluster(3, 4, nics_per_node=2, latency="2 us", efficiency=0.5))
    g = topo.graph
    assert kinds(g) == {"gpu": 12, "switch": 3, "nic": 6, "fabric": 1}
    assert g.number_of_edges() == 12 + 12 + 6 and len(topo.links) == 2 * g.number_of_edges()
    assert g.degree("fabric") == 6 and g.degree("node0.nic0") == 3  # two GPUs and the fabric
    assert path_of(topo, 0, 1) == ["w0", "node0.switch", "w1"]
    assert path_of(topo, 1, 6) == ["w1", "node0.nic0", "fabric", "node1.nic1", "w6"]  # GPU g uses NIC g*2//4
    intra, inter = topo.route(0, 1), topo.route(1, 6)
    assert (intra.bandwidth, intra.latency) == (225e9, 1e-6)  # 450 GB/s x 0.5; two halves of 1 us
    assert (inter.bandwidth, inter.latency) == (50e9, 2e-6)  # the NIC cables; GPU-NIC hops are free
    assert g.edges["w1", "node0.nic0"]["bandwidth"] == 50e9 and g.edges["w1", "node0.nic0"]["latency"] == 0.0


def test_rails_without_spines_cross_rails_over_nvlink_first():
    topo = topology(cluster(2, 4, topology="rail_optimized", nics_per_node=4))
    assert kinds(topo.graph) == {"gpu": 8, "switch": 2, "nic": 8, "rail": 4}
    assert topo.graph.number_of_edges() == 8 + 8 + 8
    assert path_of(topo, 1, 5) == ["w1", "node0.nic1", "rail1", "node1.nic1", "w5"]  # same rail
    assert path_of(topo, 3, 4) == ["w3", "node0.switch", "w0", "node0.nic0", "rail0", "node1.nic0", "w4"]  # PXN


def test_rails_with_spines_spread_by_destination_node():
    topo = topology(cluster(4, 2, topology="rail_optimized", nics_per_node=2, spines=2))
    assert kinds(topo.graph)["spine"] == 2 and topo.graph.degree("spine0") == 2  # every rail
    assert path_of(topo, 0, 3) == ["w0", "node0.nic0", "rail0", "spine1", "rail1", "node1.nic1", "w3"]
    spines = {path_of(topo, 0, 2 * node + 1)[3] for node in range(1, 4)}
    assert spines == {"spine0", "spine1"}


def test_fat_tree_counts_and_d_mod_k_spreads_a_shift_over_every_core():
    topo = topology(cluster(16, topology="fat_tree", k=4))
    g = topo.graph
    assert kinds(g) == {"gpu": 16, "nic": 16, "edge": 8, "agg": 8, "core": 4}
    assert all(g.degree(n) == 4 for n in g if n.startswith(("edge", "agg", "core")))  # k ports each
    assert len(path_of(topo, 0, 1)) - 1 == 4  # same edge switch
    assert len(path_of(topo, 0, 2)) - 1 == 6  # same pod
    assert len(path_of(topo, 0, 8)) - 1 == 8  # across pods: up to a core and down
    shift = [topo.route(h, (h + 8) % 16).links for h in range(16)]
    assert max(Counter(link for route in shift for link in route).values()) == 1  # no link shared
    first = [nx.shortest_path(g, f"w{h}", f"w{(h + 8) % 16}") for h in range(16)]
    assert len({p[4] for p in first}) < 4  # networkx's first shortest path piles onto fewer cores
    cores = Counter(p[4] for a in range(16) for b in range(16) if a // 4 != b // 4 for p in [path_of(topo, a, b)])
    assert cores == {f"core{c}": 48 for c in range(4)}  # all-to-all across pods: evenly over the cores


def test_fat_tree_k_is_computed_oversubscription_slows_uplinks_and_empty_pods_are_left_out():
    c = cluster(6, topology="fat_tree", oversubscription=2)
    assert c.inter.k == 4  # the smallest even k with k^3/4 >= 6
    g = topology(c).graph
    assert kinds(g) == {"gpu": 6, "nic": 6, "edge": 3, "agg": 4, "core": 4}  # two pods, three edge switches used
    assert g.edges["edge0", "agg0"]["bandwidth"] == 50e9 and g.edges["agg0", "core0"]["bandwidth"] == 100e9


def test_torus_links_degrees_and_dimension_order_routes():
    topo = topology(cluster(16, topology="torus", dims=[4, 4], latency="1 us"))
    g = topo.graph
    assert kinds(g) == {"gpu": 16, "nic": 16}
    assert g.number_of_edges() == 16 + 32
    assert all(g.degree(f"node{i}.nic0") == 5 for i in range(16))  # 4 neighbours and its GPU
    assert g.edges["w0", "node0.nic0"]["bandwidth"] == 400e9  # the router's 4 ports: never the bottleneck
    # (0,0) -> (1,3): one step down the first dimension, then the short way round the second (3 -> wraps)
    assert path_of(topo, 0, 7) == ["w0", "node0.nic0", "node4.nic0", "node7.nic0", "w7"]
    assert topo.route(0, 7).latency == 2e-6
    assert all(torus_index(torus_coordinates(i, [2, 3, 4]), [2, 3, 4]) == i for i in range(24))
    for a in range(16):
        for b in range(16):
            if a != b:
                ca, cb = torus_coordinates(a, [4, 4]), torus_coordinates(b, [4, 4])
                hops = sum(min((x - y) % 4, (y - x) % 4) for x, y in zip(ca, cb))
                assert len(topo.route(a, b).links) == hops + 2  # minimal


def test_torus_sizes_two_and_one_have_one_cable_or_none():
    g = topology(cluster(4, topology="torus", dims=[2, 1, 2])).graph
    assert g.number_of_edges() == 4 + 4  # a 2 x 2 ring of rings: each pair once


def test_graph_fabric_ecmp_spreads_deterministically():
    edges = [[n, s] for n in range(4) for s in ("s1", "s2")]
    topo = topology(cluster(4, topology="graph", edges=edges))
    middles = Counter(path_of(topo, a, b)[2] for a in range(4) for b in range(4) if a != b)
    assert set(middles) == {"s1", "s2"} and min(middles.values()) >= 4
    again = topology(cluster(4, topology="graph", edges=edges))
    assert all(topo.route(a, b) == again.route(a, b) for a in range(4) for b in range(4) if a != b)


def test_graph_fabric_routes_only_through_the_fabric():
    # NIC 1 of each node reaches the other only down a chain of 12 switches; through the nodes'
    # GPUs, switches and NIC 0 (one switch apart) it would be 10 hops. Routes stay in the fabric.
    chain = [f"s{i}" for i in range(12)]
    cables = [["node0.nic0", "a"], ["a", "node1.nic0"], ["node0.nic1", chain[0]], [chain[-1], "node1.nic1"]]
    cables += [[x, y] for x, y in zip(chain, chain[1:])]
    topo = topology(cluster(2, 2, topology="graph", nics_per_node=2, edges=cables))
    assert path_of(topo, 1, 3) == ["w1", "node0.nic1", *chain, "node1.nic1", "w3"]


def test_node_ranks_link_figures_and_description():
    c = cluster(2, 4, topology="rail_optimized", nics_per_node=4, latency="3 us", efficiency=0.5)
    assert node_ranks(c) == [(0, 1, 2, 3), (4, 5, 6, 7)]
    assert link_figures(c) == ("cluster/rail_optimized", 225e9, 1e-6)  # the fastest hop: inside a node
    flat = Cluster.model_validate({"workers": 3, "network": {"bandwidth": 1e9, "latency": 1e-6}})
    assert node_ranks(flat) == [(0,), (1,), (2,)] and link_figures(flat) == ("switch", 1e9, 1e-6)
    one = Cluster.model_validate({"preset": "dgx-h100"})
    assert link_figures(one) == ("switch", 360e9, 0.6e-6)
    graph = cluster(2, topology="graph", edges=[[0, 1, ], {"nodes": [0, "s"], "bandwidth": "1 TB/s", "latency": 0}, [1, "s"]])
    assert link_figures(graph) == ("cluster/graph", 1e12, 0.0)
    assert describe_cluster(c).startswith("8 GPUs (2 nodes x 4): a switch in each node (450 GB/s at 50%")


@pytest.mark.parametrize("preset, nodes", [("dgx-h100", 4), ("hgx-a100", 2), ("tpu-v5e", 256)])
def test_every_preset_builds_and_every_pair_has_a_route(preset, nodes):
    spec = {"preset": preset} if preset == "tpu-v5e" else {"preset": preset, "nodes": nodes}
    c = Cluster.model_validate(spec)
    topo = topology(c)
    pairs = [(a, b) for a in range(0, c.workers, 7) for b in range(0, c.workers, 5) if a != b]
    for a, b in pairs:
        route = topo.route(a, b)
        assert route.links and topo.links[route.links[0]].src == f"w{a}" and topo.links[route.links[-1]].dst == f"w{b}"
