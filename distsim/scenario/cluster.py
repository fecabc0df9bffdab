"""Clusters as people describe them: nodes of GPUs, a switch inside each node, a fabric between.

``cluster: {nodes, gpus_per_node, intra, inter}`` (or a ``preset`` that supplies them)
is the second way to write the hardware, beside a flat ``workers`` + ``network``.
Rank r is GPU ``w{r}``, the local GPU r % gpus_per_node of node r // gpus_per_node,
so everything that names ranks w0..w{n-1} keeps working. The graph and the routes
are built in ``distsim/hardware/cluster.py``; docs/clusters.md has the pictures.

Bandwidth is per direction everywhere (links are full duplex): a vendor's
bidirectional figure is halved (NVLink 4 is sold as 900 GB/s, which is 450 GB/s each way).

Rules that relate fields (a torus's dims and the node count, a fat tree's size and
the NICs it must hold, the names in a graph's edges) are checked here, with the
error located at the field it is about, so ``distsim validate`` reports them.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from distsim.scenario.fields import MAX_WORKERS, Bandwidth, Fraction, Seconds, Section, edge_from_list
from distsim.scenario.presets import with_preset

NODE_KEYS = ("preset", "nodes", "gpus_per_node", "intra", "inter")  # any of them: a cluster of nodes
ONLY_FOR = {"k": "fat_tree", "oversubscription": "fat_tree", "spines": "rail_optimized", "dims": "torus", "edges": "graph"}
NIC_NAME = re.compile(r"node(\d+)\.nic(\d+)")
RESERVED_NAME = re.compile(r"w\d+|node\d+\.switch")
MAX_FAT_TREE_K = 256
MISSING = "missing"
DEFAULT_NETWORK_MODEL = "cut_through"  # as Network.model's default


class Intra(Section):
    """The links inside a node: every GPU has its own full-duplex port on one switch (NVSwitch)."""

    topology: Literal["switch"] = Field("switch", description="every GPU on one non-blocking switch (NVSwitch)")
    bandwidth: Bandwidth = Field(description="per GPU and direction (NVLink 4: 900 GB/s total = 450 GB/s each way)")
    latency: Seconds = Field(0.0, description="alpha of one message from GPU to GPU through the switch (half per cable)")
    efficiency: Fraction = Field(
        1.0, description="fraction of the line rate a transfer reaches (protocol overhead): links carry bandwidth x efficiency"
    )


class FabricEdge(Section):
    """One full-duplex cable of a ``graph`` fabric; unset values take ``inter``'s."""

    nodes: tuple[int | str, int | str] = Field(
        description="its two ends: a node's NIC (3 is node 3's NIC 0; 'node3.nic1') or a switch (any other name)"
    )
    bandwidth: Bandwidth | None = None
    latency: Seconds | None = None


class Inter(Section):
    """The fabric between nodes: each node's NICs and the switches (or torus links) that join them."""

    topology: Literal["switch", "rail_optimized", "fat_tree", "torus", "graph"] = Field(
        "switch", description="how the NICs are joined: one switch, a switch per rail, a k-ary fat tree, a torus, or your edges"
    )
    nics_per_node: int = Field(1, ge=1, le=64, description="NICs (ports into the fabric) per node; each serves gpus_per_node / nics_per_node GPUs")
    bandwidth: Bandwidth = Field(description="per NIC port (per torus link) and direction (InfiniBand NDR: 400 Gbit/s)")
    latency: Seconds = Field(
        0.0, description="alpha of one NIC-to-NIC crossing of one switch (half per cable); of one link in a torus or a graph"
    )
    efficiency: Fraction = Field(1.0, description="fraction of the line rate a transfer reaches: links carry bandwidth x efficiency")
    k: int | None = Field(None, ge=2, le=MAX_FAT_TREE_K, description="fat_tree: switch radix (even); unset: the smallest that holds every NIC")
    oversubscription: float | None = Field(
        None, ge=1, description="fat_tree: edge switches' down/up bandwidth ratio (uplinks carry bandwidth / oversubscription); unset: 1"
    )
    spines: int | None = Field(
        None, ge=1, le=1024, description="rail_optimized: spine switches joining the rails; unset: cross-rail traffic first crosses NVLink to the GPU on the right rail (PXN)"
    )
    dims: list[Annotated[int, Field(ge=1, le=MAX_WORKERS)]] | None = Field(
        None, description="torus: its size in each of 1 to 3 dimensions, e.g. [16, 16]; the product is the node count"
    )
    edges: list[Annotated[FabricEdge, BeforeValidator(edge_from_list, json_schema_input_type=FabricEdge | tuple[int | str, int | str])]] | None = Field(
        None, description="graph: cables [a, b] or {nodes: [a, b], bandwidth, latency} between NICs and switches"
    )

    @model_validator(mode="after")
    def _fields_of_topology(self) -> "Inter":
        errors = [
            ((key,), f"{key!r} is only used with topology {owner!r}, not {self.topology!r}", getattr(self, key))
            for key, owner in ONLY_FOR.items()
            if getattr(self, key) is not None and self.topology != owner
        ]
        if self.topology == "torus" and self.dims is None:
            errors.append((("dims",), "topology 'torus' needs 'dims', its size in each dimension (e.g. [16, 16])", None))
        if self.dims is not None and not 1 <= len(self.dims) <= 3:
            errors.append((("dims",), f"a torus has 1 to 3 dimensions, found {len(self.dims)}", self.dims))
        if self.topology == "torus" and self.nics_per_node != 1:
            errors.append((("nics_per_node",), "a torus joins one router per node: nics_per_node must be 1", self.nics_per_node))
        if self.topology == "graph" and not self.edges:
            errors.append((("edges",), "topology 'graph' needs an 'edges' list", None))
        if self.k is not None and self.k % 2:
            errors.append((("k",), f"a k-ary fat tree needs an even k (k/2 ports down, k/2 up), found {self.k}", self.k))
        fail(errors)
        return self


def fail(errors: list[tuple[tuple, str, object]]) -> None:
    """Raise every (location, message, value found) as one pydantic error, each located at its field
    (``MISSING`` as the message: the field is required here and was not written).

    A cross-field rule is about one field; raising it at that field's location
    (rather than as a ValueError of the whole section) lets the located error point
    at the line to change.
    """
    if errors:
        details = [InitErrorDetails(type="missing" if message is MISSING else PydanticCustomError("value_error", message),
                                    loc=loc, input=found) for loc, message, found in errors]
        raise ValidationError.from_exception_data("cluster", details)


def resolve_cluster(data: object, handler) -> BaseModel:
    """Validate a ``cluster`` section (a pydantic wrap validator): preset merged under, sizes computed.

    A flat cluster gets its network's model as ``network_model``. For a cluster of nodes, the preset's
    keys fill what the scenario does not write; ``workers`` (nodes x gpus_per_node),
    an unset ``nodes`` (1, or the torus's size) and an unset fat-tree ``k`` are
    computed. Only the keys the scenario wrote count as set, so a sweep point that
    dumps the scenario (``exclude_unset``) and loads it again re-merges its preset.
    """
    if not isinstance(data, dict) or not any(key in data for key in NODE_KEYS):
        return _flat(handler(data))
    written = data
    data = with_preset(data)
    workers_written = "workers" in data
    cluster = handler(data if workers_written else {**data, "workers": 1})  # 1 holds the place of the product
    nodes = _node_count(cluster)
    gpus = cluster.gpus_per_node or 1
    fabric = cluster.inter if nodes > 1 else None  # one node uses no fabric, whatever a preset says of it
    errors = _size_errors(cluster, nodes, gpus, workers_written) + _fabric_errors(fabric, nodes, gpus)
    fail([(loc, message if message is MISSING else message + _from_preset(loc, written), found) for loc, message, found in errors])
    object.__setattr__(cluster, "nodes", nodes)
    object.__setattr__(cluster, "gpus_per_node", gpus)
    object.__setattr__(cluster, "workers", nodes * gpus)
    object.__setattr__(cluster, "network_model", cluster.network_model or DEFAULT_NETWORK_MODEL)
    if fabric is not None and fabric.topology == "fat_tree" and fabric.k is None:
        object.__setattr__(fabric, "k", fat_tree_k(nodes * fabric.nics_per_node))
    keep_written(cluster, written)
    return cluster


def _flat(cluster):
    """A flat cluster's network model is its network's; ``network_model`` is for clusters of nodes."""
    if cluster.network_model is not None:
        fail([(("network_model",), "a flat cluster sets its model in 'network' (network: {model: ...})", cluster.network_model)])
    if cluster.network is not None:
        object.__setattr__(cluster, "network_model", cluster.network.model)
    return cluster


def _from_preset(loc: tuple, written: dict) -> str:
    """' (inter.dims comes from preset 'tpu-v5e')' when the field at ``loc`` was not written but merged in."""
    node: object = written
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return f" ({'.'.join(map(str, loc))} comes from preset {written['preset']!r})" if written.get("preset") else ""
        node = node[part]
    return ""


def _node_count(cluster) -> int:
    inter = cluster.inter
    if cluster.nodes is not None:
        return cluster.nodes
    if inter is not None and inter.topology == "torus" and inter.dims:
        return math.prod(inter.dims)
    return 1


def _size_errors(cluster, nodes: int, gpus: int, workers_written: bool) -> list:
    errors = []
    if cluster.network is not None:
        errors.append((("network",), "a cluster of nodes is described by 'intra' and 'inter'; 'network' is for a flat "
                       "cluster of 'workers'", None))
    if nodes * gpus > MAX_WORKERS:
        errors.append((("nodes",), f"{nodes} nodes x {gpus} GPUs = {nodes * gpus:,} GPUs; at most {MAX_WORKERS:,}", nodes))
    elif workers_written and cluster.workers != nodes * gpus:
        errors.append((("workers",), f"with nodes, the GPU count is nodes x gpus_per_node = {nodes * gpus}; "
                       "leave 'workers' out", cluster.workers))
    if gpus > 1 and cluster.intra is None:
        errors.append((("intra",), MISSING, None))
    if nodes > 1 and cluster.inter is None:
        errors.append((("inter",), MISSING, None))
    return errors


def _fabric_errors(inter: Inter | None, nodes: int, gpus: int) -> list:
    """What the fabric cannot do for this many nodes and GPUs, each at the field to change."""
    if inter is None:
        return []
    errors = []
    nics = inter.nics_per_node
    if nics > gpus or gpus % nics:
        errors.append((("inter", "nics_per_node"), f"{nics} NICs cannot be shared evenly by {gpus} GPUs per node "
                       "(nics_per_node must divide gpus_per_node)", nics))
    if inter.topology == "torus" and inter.dims and math.prod(inter.dims) != nodes:
        shape = " x ".join(map(str, inter.dims))
        errors.append((("inter", "dims"), f"a {shape} torus has {math.prod(inter.dims)} vertices but the cluster has "
                       f"{nodes} nodes (one node per vertex)", inter.dims))
    if inter.topology == "fat_tree":
        k = inter.k or fat_tree_k(nodes * nics)
        if k**3 // 4 < nodes * nics:
            errors.append((("inter", "k"), f"a {k}-ary fat tree holds {k**3 // 4} NICs, the cluster has {nodes * nics} "
                           f"(k = {fat_tree_k(nodes * nics)} would hold them)", inter.k))
    for index, edge in enumerate(inter.edges or ()):
        for end, name in enumerate(edge.nodes):
            problem = _edge_end_problem(name, nodes, nics)
            if problem:
                errors.append((("inter", "edges", index, "nodes", end), problem, name))
    return errors


def _edge_end_problem(name: int | str, nodes: int, nics: int) -> str | None:
    """Why ``name`` cannot be an end of a fabric cable (None when it can)."""
    if isinstance(name, int):
        return None if 0 <= name < nodes else f"node {name} does not exist (nodes are 0..{nodes - 1})"
    nic = NIC_NAME.fullmatch(name)
    if nic:
        node, port = int(nic.group(1)), int(nic.group(2))
        if node >= nodes:
            return f"node {node} does not exist (nodes are 0..{nodes - 1})"
        return None if port < nics else f"node {node} has NICs nic0..nic{nics - 1}, not nic{port}"
    if RESERVED_NAME.fullmatch(name):
        return f"{name!r} is inside a node; fabric cables join NICs (3, 'node3.nic1') and switches"
    return None


def fat_tree_k(hosts: int) -> int:
    """The smallest even radix k whose k-ary fat tree (k^3/4 hosts, Al-Fares et al. 2008) holds ``hosts``."""
    k = 2
    while k**3 // 4 < hosts and k < MAX_FAT_TREE_K:
        k += 2
    return k


def keep_written(model: BaseModel, written: dict) -> None:
    """Count as set only the fields the scenario wrote, in ``model`` and the sections below it.

    Values from a preset, and computed ones, are then left out of
    ``model_dump(exclude_unset=True)``, which is how sweeps rebuild a scenario.
    """
    fields_set = model.__pydantic_fields_set__
    fields_set.clear()
    fields_set.update(key for key in written if key in type(model).model_fields)
    for key in fields_set:
        value, raw = getattr(model, key), written[key]
        if isinstance(value, BaseModel) and isinstance(raw, dict):
            keep_written(value, raw)


def cluster_json_schema(schema: dict) -> None:
    """``workers`` is required of a flat cluster only: the JSON Schema cannot say 'unless nodes', so it says neither."""
    schema["required"] = [key for key in schema.get("required", []) if key != "workers"]
    if not schema["required"]:
        del schema["required"]
