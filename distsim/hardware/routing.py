"""Routes through a cluster of nodes: which NICs, which switches, and how multi-path fabrics spread.

A route from GPU a to GPU b (``ClusterRouter(a, b)``, a list of graph node names):

* **same node**: a -> the node's switch -> b;
* **other node**: a -> a's NIC -> the fabric -> b's NIC -> b, where GPU g of a node
  uses NIC ``g * nics // gpus``. On a ``rail_optimized`` fabric without spines, NIC k
  of every node hangs off rail switch k only, so traffic between different rails
  first crosses NVLink to the GPU of a's node on b's rail and leaves from its NIC
  (NCCL's PXN, "PCI x NVLink", does exactly this);
* **through the fabric**, by topology:

  - ``switch``: NIC -> fabric -> NIC;
  - ``rail_optimized``: NIC -> rail -> NIC; across rails with spines, rail -> spine
    -> rail, the spine chosen by destination node (D-mod-k);
  - ``fat_tree``: up to the lowest common layer and down, the aggregation and core
    switch chosen by the destination NIC's index (D-mod-k, Zahavi 2010): every
    destination has its own path up, so a permutation spreads over all cores
    instead of piling onto the first one as networkx's first shortest path would;
  - ``torus``: dimension-order routing, the shorter way round in each dimension
    (ties go the positive way), as torus machines route;
  - ``graph``: among the fewest-hop paths, each switch picks its next hop by a hash
    of the flow (ECMP); the hash is CRC-32, not Python's salted ``hash``, so routes
    are the same in every run.

Every choice is a function of the two endpoints only, so routes are deterministic.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Layout:
    """Where every GPU and NIC of a cluster is, and the names they have in the graph."""

    nodes: int
    gpus: int  # per node
    nics: int  # per node

    def place(self, rank: int) -> tuple[int, int]:
        """(node, local GPU index) of ``rank``."""
        return divmod(rank, self.gpus)

    def nic_of(self, local: int) -> int:
        """The NIC a node's GPU ``local`` sends through (NICs are shared evenly, in order)."""
        return local * self.nics // self.gpus

    @staticmethod
    def gpu(rank: int) -> str:
        return f"w{rank}"

    @staticmethod
    def switch(node: int) -> str:
        return f"node{node}.switch"

    @staticmethod
    def nic(node: int, port: int) -> str:
        return f"node{node}.nic{port}"


class ClusterRouter:
    """``router(a, b)``: the node names of the route from GPU ``a`` to GPU ``b`` (see the module doc)."""

    def __init__(self, layout: Layout, inter, fabric_graph: nx.Graph | None):
        self.layout = layout
        self.inter = inter
        self.fabric_graph = fabric_graph  # NICs and the switches between them (no GPU, no node switch)
        fabric_of = {"switch": self._switch, "rail_optimized": self._rails, "fat_tree": self._fat_tree,
                     "torus": self._torus, "graph": self._ecmp}
        self.fabric = fabric_of[inter.topology] if inter is not None else None
        self._distances: dict[str, dict[str, int]] = {}  # graph fabric: hops to a destination NIC

    def __call__(self, a: str, b: str) -> list[str]:
        lay = self.layout
        (na, la), (nb, lb) = lay.place(int(a[1:])), lay.place(int(b[1:]))
        if na == nb:
            return [a, lay.switch(na), b]
        head, ka, kb = [a], lay.nic_of(la), lay.nic_of(lb)
        if ka != kb and self.inter.topology == "rail_optimized" and not self.inter.spines:
            head, ka = [a, lay.switch(na), lay.gpu(na * lay.gpus + lb)], kb  # PXN: over NVLink to b's rail
        return head + self.fabric(na, ka, nb, kb) + [b]

    # Each fabric gives the path from NIC (na, ka) to NIC (nb, kb), both included.

    def _switch(self, na, ka, nb, kb) -> list[str]:
        return [self.layout.nic(na, ka), "fabric", self.layout.nic(nb, kb)]

    def _rails(self, na, ka, nb, kb) -> list[str]:
        nic = self.layout.nic
        if ka == kb:
            return [nic(na, ka), f"rail{ka}", nic(nb, kb)]
        return [nic(na, ka), f"rail{ka}", f"spine{nb % self.inter.spines}", f"rail{kb}", nic(nb, kb)]

    def _fat_tree(self, na, ka, nb, kb) -> list[str]:
        half = self.inter.k // 2
        src, dst = na * self.layout.nics + ka, nb * self.layout.nics + kb  # hosts of the tree
        edge_s, edge_d = src // half, dst // half
        pod_s, pod_d = edge_s // half, edge_d // half
        ends = [self.layout.nic(na, ka)], [self.layout.nic(nb, kb)]
        if edge_s == edge_d:
            return ends[0] + [f"edge{edge_s}"] + ends[1]
        up = dst % half  # D-mod-k: the aggregation switch (within the pod) is fixed by the destination
        if pod_s == pod_d:
            return ends[0] + [f"edge{edge_s}", f"agg{pod_s * half + up}", f"edge{edge_d}"] + ends[1]
        core = up * half + (dst // half) % half
        middle = [f"edge{edge_s}", f"agg{pod_s * half + up}", f"core{core}", f"agg{pod_d * half + up}", f"edge{edge_d}"]
        return ends[0] + middle + ends[1]

    def _torus(self, na, ka, nb, kb) -> list[str]:
        dims = self.inter.dims
        here, there = torus_coordinates(na, dims), torus_coordinates(nb, dims)
        path = [self.layout.nic(na, 0)]
        for axis, size in enumerate(dims):
            forward = (there[axis] - here[axis]) % size
            step = 1 if forward <= size - forward else -1
            while here[axis] != there[axis]:
                here[axis] = (here[axis] + step) % size
                path.append(self.layout.nic(torus_index(here, dims), 0))
        return path

    def _ecmp(self, na, ka, nb, kb) -> list[str]:
        src, dst = self.layout.nic(na, ka), self.layout.nic(nb, kb)
        distance = self._distances.get(dst)
        if distance is None:
            distance = self._distances[dst] = nx.single_source_shortest_path_length(self.fabric_graph, dst)
        flow = f"{src}>{dst}"
        path = [src]
        while path[-1] != dst:
            here = path[-1]
            closer = sorted(n for n in self.fabric_graph[here] if distance.get(n) == distance[here] - 1)
            path.append(closer[zlib.crc32(f"{flow}@{here}".encode()) % len(closer)])
        return path


def torus_coordinates(index: int, dims: list[int]) -> list[int]:
    """The coordinates of vertex ``index`` (row-major: the last dimension varies fastest)."""
    coordinates = []
    for size in reversed(dims):
        index, coordinate = divmod(index, size)
        coordinates.append(coordinate)
    return coordinates[::-1]


def torus_index(coordinates: list[int], dims: list[int]) -> int:
    index = 0
    for coordinate, size in zip(coordinates, dims):
        index = index * size + coordinate
    return index
