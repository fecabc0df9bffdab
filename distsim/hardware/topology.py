"""Network topologies as networkx graphs, full-duplex links and routes between endpoints.

An *endpoint* is a node a rank can live on: the workers, and a dedicated
parameter server if the scenario has one. Other nodes (switches) only forward.
Each undirected cable becomes two directed links, one per direction, so that
traffic in one direction never slows the other (full duplex).

A route from endpoint a to b is the tuple of directed link ids on a shortest
path (fewest hops; networkx breaks ties in a fixed order, so routes are
deterministic), its bandwidth (the slowest link) and its latency (the sum).
For ``switch`` the network latency is the endpoint-to-endpoint alpha, so each
half (uplink, downlink) gets alpha/2: halving is exact in binary floating point
and the two halves sum back to alpha exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from distsim.trace import LinkInfo

SWITCH = "switch"


@dataclass(frozen=True)
class Route:
    links: tuple[int, ...]
    bandwidth: float
    latency: float


class Topology:
    """Endpoints, directed links and cached shortest-path routes over a networkx graph."""

    def __init__(self, kind: str, graph: nx.Graph, endpoints: list[str], router=None):
        self.kind = kind
        self.router = router  # (endpoint name, endpoint name) -> the path's node names; None: fewest hops
        self.graph = graph
        self.endpoints = list(endpoints)
        self.links: list[LinkInfo] = []
        self._link_id: dict[tuple[str, str], int] = {}
        for u, v, data in graph.edges(data=True):
            for a, b in ((u, v), (v, u)):
                self._link_id[(a, b)] = len(self.links)
                self.links.append(LinkInfo(len(self.links), f"{a}->{b}", a, b, data["bandwidth"], data["latency"]))
        self._routes: dict[tuple[int, int], Route] = {}

    def route(self, a: int, b: int) -> Route:
        """The route from endpoint ``a`` to endpoint ``b`` (cached)."""
        key = (a, b)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = self._shortest(a, b)
        return route

    def _shortest(self, a: int, b: int) -> Route:
        src, dst = self.endpoints[a], self.endpoints[b]
        path = self.router(src, dst) if self.router else nx.shortest_path(self.graph, src, dst)
        ids = tuple(self._link_id[(u, v)] for u, v in zip(path, path[1:]))
        return Route(ids, min(self.links[i].bandwidth for i in ids), sum(self.links[i].latency for i in ids))


def build_topology(kind: str, endpoints: list[str], bandwidth: float, latency: float, edges=()) -> Topology:
    """Build one of the named topologies over the given endpoint names."""
    builders = {"switch": _switch, "ring": _ring, "fully_connected": _fully_connected, "graph": _graph}
    graph = builders[kind](endpoints, bandwidth, latency, edges)
    return Topology(kind, graph, endpoints)


def _cable(graph: nx.Graph, a: str, b: str, bandwidth: float, latency: float) -> None:
    graph.add_edge(a, b, bandwidth=bandwidth, latency=latency)


def _switch(endpoints, bandwidth, latency, _edges) -> nx.Graph:
    graph = nx.Graph()
    for name in endpoints:
        _cable(graph, name, SWITCH, bandwidth, latency / 2)
    return graph


def _ring(endpoints, bandwidth, latency, _edges) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(endpoints)
    if len(endpoints) == 2:
        _cable(graph, endpoints[0], endpoints[1], bandwidth, latency)
        return graph
    for i, name in enumerate(endpoints):
        _cable(graph, name, endpoints[(i + 1) % len(endpoints)], bandwidth, latency)
    return graph


def _fully_connected(endpoints, bandwidth, latency, _edges) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(endpoints)
    for i, a in enumerate(endpoints):
        for b in endpoints[i + 1 :]:
            _cable(graph, a, b, bandwidth, latency)
    return graph


def _graph(endpoints, bandwidth, latency, edges) -> nx.Graph:
    """A user's cable list; every endpoint must be connected to every other."""
    graph = nx.Graph()
    graph.add_nodes_from(endpoints)
    for a, b, bw, lat in edges:
        _cable(graph, a, b, bandwidth if bw is None else bw, latency if lat is None else lat)
    return graph


def disconnected_endpoints(topology: Topology) -> list[str]:
    """Endpoints that cannot reach the first endpoint (empty when the network is usable)."""
    reachable = nx.node_connected_component(topology.graph, topology.endpoints[0])
    return [name for name in topology.endpoints if name not in reachable]


def single_node(name: str = "w0") -> Topology:
    """One device and no network (a rematerialization run on one GPU)."""
    graph = nx.Graph()
    graph.add_node(name)
    return Topology("none", graph, [name])
