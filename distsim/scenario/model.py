"""The validated, frozen form of a scenario: hardware, workload, strategy, run.

Quantities are stored in base units (seconds, bytes, bytes/s, FLOP/s). The
strategy section is kept as its ``kind`` plus raw parameters: each strategy
validates its own parameters with its own model (see ``distsim.strategies``), so
this layer knows nothing about particular strategies.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from distsim.scenario.units import Quantity


def _quantity(kind: str) -> Quantity:
    """Parses '5 us' and friends, and tells JSON Schema that text with a unit is accepted."""
    return Quantity(kind)


Seconds = Annotated[float, _quantity("time"), Field(ge=0)]
Bytes = Annotated[float, _quantity("bytes"), Field(gt=0)]
Bandwidth = Annotated[float, _quantity("bandwidth"), Field(gt=0)]
Flops = Annotated[float, _quantity("flops"), Field(gt=0)]
Count = Annotated[int, Quantity("count", whole=True)]

DTYPE_BYTES = {"fp64": 8, "fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}
# Beyond these a scenario is a typo, not a workload, and would exhaust memory before any error.
MAX_WORKERS = 2**20
MAX_LAYERS = 10**6


class Section(BaseModel):
    """Every section is frozen and rejects unknown keys (they are typos more often than not)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Gpu(Section):
    flops: Flops = Field(312e12, description="compute throughput; default: A100 dense bf16")
    memory: Bytes = Field(80 * 2**30, description="device memory capacity")


class Edge(Section):
    """One full-duplex cable of a ``graph`` topology; unset values take the network's."""

    nodes: tuple[int | str, int | str] = Field(
        description="its two ends: a worker (0, 'w0'), the server ('ps') or any other name (a switch)"
    )
    bandwidth: Bandwidth | None = None
    latency: Seconds | None = None


def _edge_from_list(value: Any) -> Any:
    return {"nodes": value} if isinstance(value, (list, tuple)) else value


class Network(Section):
    topology: Literal["switch", "ring", "fully_connected", "graph"] = "switch"
    bandwidth: Bandwidth = Field(description="per link and direction (links are full duplex)")
    latency: Seconds = Field(0.0, description="alpha: end-to-end latency of one hop (through the switch for 'switch')")
    edges: list[Annotated[Edge, BeforeValidator(_edge_from_list, json_schema_input_type=Edge | tuple[int | str, int | str])]] | None = Field(
        None, description="cables of a 'graph' topology: [a, b] or {nodes: [a, b], bandwidth, latency}"
    )

    @model_validator(mode="after")
    def _edges_only_for_graph(self) -> "Network":
        if self.topology == "graph" and not self.edges:
            raise ValueError("topology 'graph' needs an 'edges' list")
        if self.topology != "graph" and self.edges:
            raise ValueError(f"'edges' is only used with topology 'graph', not {self.topology!r}")
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


class Cluster(Section):
    workers: int = Field(ge=1, le=MAX_WORKERS, description="number of data-parallel workers (GPUs)")
    gpu: Gpu = Gpu()
    network: Network | None = None
    memory: MemoryTier = MemoryTier()
    disk: Disk = Disk()


class Layer(Section):
    """One layer of a layer chain (rematerialization workloads)."""

    fwd_time: Seconds | None = Field(None, description="forward time; unset: fwd_flops / gpu.flops")
    bwd_time: Seconds | None = Field(None, description="backward time; unset: bwd_flops / gpu.flops, else twice the forward time")
    fwd_flops: Annotated[float, _quantity("count"), Field(ge=0)] | None = None
    bwd_flops: Annotated[float, _quantity("count"), Field(ge=0)] | None = None
    activation: Bytes = Field(description="bytes of the layer's output activation")


class Model(Section):
    params: Annotated[Count, Field(ge=1)] | None = Field(None, description="parameters whose gradients are exchanged")
    dtype: Literal["fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8"] = "fp32"
    layers: int | None = Field(None, ge=1, le=MAX_LAYERS, description="length of the layer chain")
    layer: Layer | None = Field(None, description="every layer alike")
    per_layer: list[Layer] | None = Field(None, description="one entry per layer, in order, instead of 'layer'")

    @property
    def bytes_per_param(self) -> int:
        return DTYPE_BYTES[self.dtype]


class Run(Section):
    seed: int = Field(0, ge=0, description="seeds the run's one random generator (the payloads)")
    verify_payload: bool | None = Field(
        None, description="carry real numpy gradients and check the result; unset: on when params x workers <= 1e7"
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
