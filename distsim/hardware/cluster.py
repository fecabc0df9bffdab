"""The graph of a cluster of nodes: GPUs, a switch in each node, NICs, and the fabric between nodes.

Graph nodes, by name (link names in traces and reports are ``a->b`` of these):

* ``w{r}``: the GPU of rank r, local GPU r % gpus_per_node of node r // gpus_per_node
  (the endpoints; ranks keep the names of a flat cluster);
* ``node{i}.switch``: node i's switch (NVSwitch), when it has more than one GPU;
* ``node{i}.nic{k}``: node i's NIC k, when there is more than one node;
* the fabric's switches: ``fabric`` (switch), ``rail{k}`` and ``spine{s}``
  (rail_optimized), ``edge{e}``, ``agg{a}``, ``core{c}`` (fat_tree), or your names
  (graph). In a torus the NICs are the routers and are cabled to each other.

Cables carry ``bandwidth`` (per direction, times the tier's ``efficiency``) and
``latency`` attributes, as the flat builders in ``topology.py`` do:

* GPU - node switch: intra bandwidth; intra latency / 2 each, so GPU to GPU is intra latency;
* NIC - switch and switch - switch: inter bandwidth; inter latency / 2 each, so a
  route through one switch costs inter latency, as on a flat ``switch``; a fat
  tree's edge-to-aggregation cables carry bandwidth / oversubscription;
* torus links and graph edges: inter bandwidth and latency (or the edge's own) per link;
* GPU - its NIC (the PCIe path): no latency and the NIC's whole fabric bandwidth,
  so it is never the bottleneck; the NIC's own cables are.

Routes are chosen by :class:`~distsim.hardware.routing.ClusterRouter`.
"""

from __future__ import annotations

import math

import networkx as nx

from distsim.errors import ScenarioError

from distsim.hardware.routing import ClusterRouter, Layout, torus_coordinates, torus_index
from distsim.hardware.topology import Topology


def build_cluster(cluster, endpoints: list[str]) -> Topology:
    """The topology of a validated cluster of nodes (``scenario.model.Cluster`` with ``nodes`` set)."""
    inter = cluster.inter if cluster.nodes > 1 else None
    layout = Layout(cluster.nodes, cluster.gpus_per_node, inter.nics_per_node if inter else 1)
    graph = nx.Graph()
    graph.add_nodes_from(endpoints)
    if layout.gpus > 1:
        _nodes_inside(graph, layout, cluster.intra)
    fabric = None
    if inter is not None:
        fabric = FABRICS[inter.topology](layout, inter)
        _attach_nics(graph, layout, fabric)
    router = ClusterRouter(layout, inter, fabric)
    return Topology(cluster.topology_name, graph, endpoints, router=router)


def cluster_topology(cluster, endpoints: list[str], where) -> Topology:
    """:func:`build_cluster`, or a located ScenarioError when a graph fabric leaves a node unreachable."""
    topology = build_cluster(cluster, endpoints)
    cut_off = unreachable_nics(topology)
    if cut_off:
        first, more = topology.router.layout.nic(0, 0), f" and {len(cut_off) - 8} more" if len(cut_off) > 8 else ""
        raise ScenarioError([where.problem(("cluster", "inter", "edges"), f"no cable joins {', '.join(cut_off[:8])}{more} to {first}")])
    return topology


def node_ranks(cluster) -> list[tuple[int, ...]]:
    """The ranks of each node (box), in order; a flat cluster has one rank per node."""
    if cluster.nodes is None:
        return [(rank,) for rank in range(cluster.workers)]
    per = cluster.gpus_per_node
    return [tuple(range(node * per, (node + 1) * per)) for node in range(cluster.nodes)]


def link_figures(cluster) -> tuple[str, float, float]:
    """(topology name, bandwidth, latency) of one hop, for what still speaks of a single link.

    Flat: the network's. A cluster of nodes: its fastest hop, the highest bandwidth and
    the lowest latency any route can have (two GPUs on one switch, or two NICs one
    switch or one cable apart), so a one-hop alpha-beta figure is never above what a
    message really costs. The closed forms take each pair's own route from the
    platform (``analysis/platform.py``); these figures name the cluster's fastest hop
    in sweeps and reports, and are what "slower than one hop" is measured against.
    """
    if cluster.nodes is None:
        net = cluster.network
        return net.topology, net.bandwidth, net.latency
    hops = []  # (bandwidth, latency) of the fastest route within each tier
    if cluster.gpus_per_node > 1:
        hops.append((cluster.intra.bandwidth * cluster.intra.efficiency, cluster.intra.latency))
    if cluster.nodes > 1:
        inter = cluster.inter
        cables = [(e.bandwidth or inter.bandwidth, inter.latency if e.latency is None else e.latency) for e in inter.edges or ()]
        hops.append((max(b for b, _ in cables) * inter.efficiency, min(l for _, l in cables)) if cables
                    else (inter.bandwidth * inter.efficiency, inter.latency))
    if not hops:  # one GPU: nothing to send over
        return cluster.topology_name, math.inf, 0.0
    return cluster.topology_name, max(b for b, _ in hops), min(l for _, l in hops)


def describe_cluster(cluster) -> str:
    """One line for people: '64 GPUs (8 nodes x 8, dgx-h100): 360 GB/s switch in each node; rail_optimized fabric ...'."""
    named = f", {cluster.preset}" if cluster.preset else ""
    parts = [f"{cluster.workers} GPUs ({cluster.nodes} nodes x {cluster.gpus_per_node}{named})"]
    if cluster.gpus_per_node > 1:
        intra = cluster.intra
        parts.append(f"a {intra.topology} in each node ({_rate(intra)}, {intra.latency * 1e6:.4g} us)")
    if cluster.nodes > 1:
        inter = cluster.inter
        parts.append(f"a {inter.topology} fabric of {inter.nics_per_node} NICs per node "
                     f"({_rate(inter)}, {inter.latency * 1e6:.4g} us per hop)")
    return ": ".join([parts[0], "; ".join(parts[1:])]) if len(parts) > 1 else parts[0]


def _rate(tier) -> str:
    """A tier's line rate per direction in the unit its vendor quotes (GB/s for NVLink, Gbit/s for NICs),
    and the fraction of it transfers reach."""
    rate = tier.bandwidth
    text = f"{rate / 1e9:.4g} GB/s" if rate >= 100e9 else f"{rate * 8 / 1e9:.4g} Gbit/s"
    return text if tier.efficiency == 1 else f"{text} at {100 * tier.efficiency:.3g}%"


def _cable(graph: nx.Graph, a: str, b: str, bandwidth: float, latency: float) -> None:
    graph.add_edge(a, b, bandwidth=bandwidth, latency=latency)


def _nodes_inside(graph: nx.Graph, layout: Layout, intra) -> None:
    bandwidth, half = intra.bandwidth * intra.efficiency, intra.latency / 2
    for node in range(layout.nodes):
        for local in range(layout.gpus):
            _cable(graph, layout.gpu(node * layout.gpus + local), layout.switch(node), bandwidth, half)


def _attach_nics(graph: nx.Graph, layout: Layout, fabric: nx.Graph) -> None:
    """The fabric's cables, then each GPU to its NIC at everything that NIC can send (never the bottleneck)."""
    graph.add_edges_from(fabric.edges(data=True))
    for node in range(layout.nodes):
        for local in range(layout.gpus):
            nic = layout.nic(node, layout.nic_of(local))
            reach = sum(data["bandwidth"] for _, _, data in fabric.edges(nic, data=True))
            _cable(graph, layout.gpu(node * layout.gpus + local), nic, reach, 0.0)


def _hop(inter) -> tuple[float, float]:
    """(bandwidth, latency) of one fabric cable next to a switch: half the switch-crossing alpha each."""
    return inter.bandwidth * inter.efficiency, inter.latency / 2


def _every_nic(layout: Layout):
    for node in range(layout.nodes):
        for port in range(layout.nics):
            yield node, port, layout.nic(node, port)


def _switch_fabric(layout: Layout, inter) -> nx.Graph:
    fabric = nx.Graph()
    for _, _, nic in _every_nic(layout):
        _cable(fabric, nic, "fabric", *_hop(inter))
    return fabric


def _rail_fabric(layout: Layout, inter) -> nx.Graph:
    fabric = nx.Graph()
    for _, port, nic in _every_nic(layout):
        _cable(fabric, nic, f"rail{port}", *_hop(inter))
    for rail in range(layout.nics):
        for spine in range(inter.spines or 0):
            _cable(fabric, f"rail{rail}", f"spine{spine}", *_hop(inter))
    return fabric


def _fat_tree_fabric(layout: Layout, inter) -> nx.Graph:
    """A k-ary fat tree (Al-Fares et al. 2008) with the NICs as hosts, node by node; empty pods left out."""
    half = inter.k // 2
    bandwidth, latency = _hop(inter)
    uplink = bandwidth / (inter.oversubscription or 1)
    fabric = nx.Graph()
    hosts = layout.nodes * layout.nics
    for host, (_, _, nic) in enumerate(_every_nic(layout)):
        _cable(fabric, nic, f"edge{host // half}", bandwidth, latency)
    pods = -(-hosts // (half * half))
    for pod in range(pods):
        for edge in range(pod * half, (pod + 1) * half):
            if edge * half < hosts:
                for agg in range(pod * half, (pod + 1) * half):
                    _cable(fabric, f"edge{edge}", f"agg{agg}", uplink, latency)
        for agg in range(half):
            for core in range(agg * half, (agg + 1) * half):
                _cable(fabric, f"agg{pod * half + agg}", f"core{core}", bandwidth, latency)
    return fabric


def _torus_fabric(layout: Layout, inter) -> nx.Graph:
    """The nodes' routers (NIC 0) on a torus: each linked to its next neighbour in every dimension.

    A dimension of size 2 has one cable between the pair (its two directions are
    the same neighbour); a dimension of size 1 has none.
    """
    fabric = nx.Graph()
    fabric.add_nodes_from(layout.nic(node, 0) for node in range(layout.nodes))
    bandwidth = inter.bandwidth * inter.efficiency
    for node in range(layout.nodes):
        here = torus_coordinates(node, inter.dims)
        for axis, size in enumerate(inter.dims):
            if size > 1:
                there = list(here)
                there[axis] = (here[axis] + 1) % size
                _cable(fabric, layout.nic(node, 0), layout.nic(torus_index(there, inter.dims), 0), bandwidth, inter.latency)
    return fabric


def _graph_fabric(layout: Layout, inter) -> nx.Graph:
    """Your cables: an int is that node's NIC 0, 'node3.nic1' a NIC, any other name a switch."""
    fabric = nx.Graph()
    fabric.add_nodes_from(nic for _, _, nic in _every_nic(layout))
    for edge in inter.edges:
        a, b = (layout.nic(end, 0) if isinstance(end, int) else end for end in edge.nodes)
        bandwidth = (inter.bandwidth if edge.bandwidth is None else edge.bandwidth) * inter.efficiency
        _cable(fabric, a, b, bandwidth, inter.latency if edge.latency is None else edge.latency)
    return fabric


def unreachable_nics(topology: Topology) -> list[str]:
    """NICs of a graph fabric not joined to node 0's first NIC (empty when every node can be reached).

    Only your own edges can leave one out; the built fabrics join every NIC (rails without
    spines join the other rails through the nodes' NVLink, see routing.py).
    """
    router = topology.router
    if router.fabric_graph is None or router.inter.topology != "graph":
        return []
    nics = [nic for _, _, nic in _every_nic(router.layout)]
    reachable = nx.node_connected_component(router.fabric_graph, nics[0])
    return [nic for nic in nics if nic not in reachable]


FABRICS = {
    "switch": _switch_fabric,
    "rail_optimized": _rail_fabric,
    "fat_tree": _fat_tree_fabric,
    "torus": _torus_fabric,
    "graph": _graph_fabric,
}
