"""The validated, frozen form of a scenario: hardware, workload, strategy, run.

Quantities are stored in base units (seconds, bytes, bytes/s, FLOP/s). The
strategy section is kept as its ``kind`` plus raw parameters: each strategy
validates its own parameters with its own model (see ``distsim.strategies``), so
this layer knows nothing about particular strategies.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from distsim.scenario.cluster import Intra, Inter, cluster_json_schema, resolve_cluster
from distsim.scenario.fields import MAX_LAYERS, MAX_WORKERS, Bandwidth, Bytes, Count, Flops, Fraction, Seconds, Section, edge_from_list, quantity
from distsim.scenario.presets import PresetName
from distsim.scenario.slowdown import Jitter, Stragglers, straggler_errors
from distsim.scenario.workload import TransformerShape, check_transformer, with_model_preset

DTYPE_BYTES = {"fp64": 8, "fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}


class Gpu(Section):
    flops: Flops = Field(312e12, description="compute throughput; default: A100 dense bf16")
    memory: Bytes = Field(80 * 2**30, description="device memory capacity")
    memory_bandwidth: Bandwidth | None = Field(None, description="device memory (HBM) bandwidth, for a roofline; unset: not modelled")
    efficiency: Fraction = Field(
        1.0, description="fraction of 'flops' a compute op reaches (the roofline's compute roof is flops x efficiency)"
    )


class Edge(Section):
    """One full-duplex cable of a ``graph`` topology; unset values take the network's."""

    nodes: tuple[int | str, int | str] = Field(
        description="its two ends: a worker (0, 'w0'), the server ('ps') or a switch named in 'switches'"
    )
    bandwidth: Bandwidth | None = None
    latency: Seconds | None = None


NetworkModel = Literal["cut_through", "store_and_forward", "flow"]


class Network(Section):
    topology: Literal["switch", "ring", "fully_connected", "graph"] = "switch"
    model: NetworkModel = Field(
        "cut_through",
        description="how messages share links: 'cut_through' (links serve whole messages in turn, pipelined hop by "
        "hop; the fast default), 'store_and_forward' (a hop forwards a message once all of it has arrived) or "
        "'flow' (concurrent messages share links max-min fairly, as SimGrid's CM02); see docs/model.md",
    )
    bandwidth: Bandwidth = Field(description="per link and direction (links are full duplex)")
    latency: Seconds = Field(0.0, description="alpha: end-to-end latency of one hop (through the switch for 'switch')")
    switches: list[str] | None = Field(
        None, description="names of the switches and routers of a 'graph' topology (every other name in 'edges' is a worker or the server)"
    )
    edges: list[Annotated[Edge, BeforeValidator(edge_from_list, json_schema_input_type=Edge | tuple[int | str, int | str])]] | None = Field(
        None, description="cables of a 'graph' topology: [a, b] or {nodes: [a, b], bandwidth, latency}"
    )

    @model_validator(mode="after")
    def _edges_only_for_graph(self) -> "Network":
        if self.topology == "graph" and not self.edges:
            raise ValueError("topology 'graph' needs an 'edges' list")
        if self.topology != "graph" and self.edges:
            raise ValueError(f"'edges' is only used with topology 'graph', not {self.topology!r}")
        if self.topology != "graph" and self.switches:
            raise ValueError(f"'switches' is only used with topology 'graph', not {self.topology!r}")
        return self


class MemoryTier(Section):
    """Where stored activations live: device memory (capacity is ``gpu.memory``)."""

    load_latency: Seconds = 0.0
    store_latency: Seconds = 0.0
    bandwidth: Bandwidth | None = Field(None, description="unset: transfers cost only their latency")


class Disk(Section):
    capacity: Bytes | None = Field(None, description="unset: unlimited")
    load_latency: Seconds = 0.0
    store_latency: Seconds = 0.0
    bandwidth: Bandwidth | None = Field(None, description="unset: transfers cost only their latency")


class CableFailure(Section):
    """A cable that fails during the run (both directions): messages sent from then on are routed round it."""

    cable: tuple[int | str, int | str] = Field(description="its two ends, as the topology names them: workers (0, 'w0'), switches, NICs")
    at: Seconds = Field(description="when it fails (simulated time)")


class Cluster(Section):
    """The hardware: a flat cluster (workers and a network) or nodes of GPUs (nodes, intra, inter, or a preset)."""

    model_config = ConfigDict(json_schema_extra=cluster_json_schema)
    preset: PresetName | None = Field(
        None, description="a cluster shipped with distsim (docs/clusters.md); every key written here overrides the preset's"
    )
    workers: int = Field(
        ge=1, le=MAX_WORKERS, description="number of data-parallel workers (GPUs) of a flat cluster; or give nodes, or a preset"
    )
    nodes: int | None = Field(None, ge=1, le=MAX_WORKERS, description="nodes (boxes) of gpus_per_node GPUs; unset: the torus's size, else 1")
    gpus_per_node: int | None = Field(None, ge=1, le=1024, description="GPUs in each node, joined by 'intra'; unset: 1")
    gpu: Gpu = Gpu()
    network: Network | None = Field(None, description="the network of a flat cluster (with nodes: 'intra' and 'inter')")
    intra: Intra | None = Field(None, description="the links inside a node (NVLink through NVSwitch); needed with gpus_per_node > 1")
    inter: Inter | None = Field(None, description="the fabric between nodes; needed with nodes > 1")
    network_model: NetworkModel | None = Field(
        None, description="a cluster of nodes: how messages share links, as network.model; unset: cut_through"
    )
    memory: MemoryTier = MemoryTier()
    disk: Disk = Disk()
    failures: list[CableFailure] = Field(
        [], description="cables that fail during the run; where the topology has another path the traffic takes it, "
        "otherwise the run stops (exit 3) naming the cable and the ranks it cut apart"
    )

    _nodes = model_validator(mode="wrap")(resolve_cluster)

    @property
    def topology_name(self) -> str:
        """What kind of network this is, in one word: a flat network's topology; 'switch' for one node
        (GPUs on one switch, exactly a flat switch); 'cluster/<fabric>' for several nodes; 'none' without one."""
        if self.nodes is None:
            return self.network.topology if self.network is not None else "none"
        if self.nodes == 1:
            return "switch" if self.workers > 1 else "none"
        return f"cluster/{self.inter.topology}"


class Layer(Section):
    """One layer of a layer chain (rematerialization workloads)."""

    fwd_time: Seconds | None = Field(None, description="forward time; unset: fwd_flops / gpu.flops")
    bwd_time: Seconds | None = Field(None, description="backward time; unset: bwd_flops / gpu.flops, else twice the forward time")
    fwd_flops: Annotated[float, quantity("count"), Field(ge=0)] | None = None
    bwd_flops: Annotated[float, quantity("count"), Field(ge=0)] | None = None
    activation: Bytes = Field(description="bytes of the layer's output activation")
    params: Annotated[Count, Field(ge=0)] | None = Field(
        None, description="parameters of the layer (a training step); unset: the model's params shared evenly"
    )


class Model(TransformerShape):
    """The workload: a parameter count, a layer chain, or a transformer's shape (or preset); docs/workloads.md."""

    params: Annotated[Count, Field(ge=1)] | None = Field(
        None, description="parameters whose gradients are exchanged; a transformer's are computed")
    dtype: Literal["fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8"] = "fp32"
    layers: int | None = Field(None, ge=1, le=MAX_LAYERS, description="length of the layer chain; a transformer's blocks")
    layer: Layer | None = Field(None, description="every layer alike")
    per_layer: list[Layer] | None = Field(None, description="one entry per layer, in order, instead of 'layer'")
    optimizer: Literal["adam", "sgd"] = Field(
        "adam", description="the optimizer whose state a training step keeps: 'adam' (two fp32 moments) or 'sgd' (none)"
    )

    _preset = model_validator(mode="before")(with_model_preset)

    @model_validator(mode="after")
    def _shape(self) -> "Model":
        check_transformer(self)
        return self

    @property
    def bytes_per_param(self) -> int:
        return DTYPE_BYTES[self.dtype]


class Run(Section):
    seed: int = Field(0, ge=0, description="seeds the run's one random generator (the payloads)")
    verify_payload: bool | None = Field(
        None, description="carry real numpy gradients and check the result; unset: on when params x workers <= 1e7"
    )
    stragglers: Stragglers | None = Field(
        None, description="slow workers: {w3: 1.2} makes every compute op of w3 take 1.2 times as long"
    )
    jitter: Jitter | None = Field(
        None, description="every compute op's time times a random factor drawn from this distribution, seeded from 'seed'"
    )


class StrategySpec(BaseModel):
    """A strategy as written: its kind, its own parameters, and where it was written."""

    model_config = ConfigDict(frozen=True)
    kind: str
    params: dict[str, Any] = {}
    origin: tuple = ("strategy",)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    cluster: Cluster
    model: Model
    strategy: tuple[StrategySpec, ...]
    run: Run = Run()
    sweep: dict[str, list[Any]] | None = Field(
        None, description="a grid over dotted scenario fields, run by 'distsim sweep' (e.g. cluster.workers: [4, 8, 16])"
    )

    @model_validator(mode="after")
    def _stragglers_are_workers(self) -> "Scenario":
        straggler_errors(self.run.stragglers, self.cluster.workers)
        return self
