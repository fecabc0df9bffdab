"""The layer chain a rematerialization scenario describes, in plain numbers per layer.

Conventions (docs/rematerialization.md):

* activation sizes are whole bytes; a_0 (the input) has the size of layer 1's activation;
* a layer's forward time is ``fwd_time``, else ``fwd_flops`` / (``gpu.flops`` x ``gpu.efficiency``),
  the device's compute roof (docs/model.md; efficiency 1 unless the scenario sets it);
* its backward time is ``bwd_time``, else ``bwd_flops`` over the same, else twice its
  forward time (the usual estimate: the backward pass does about twice the forward's work).
"""

from __future__ import annotations

from dataclasses import dataclass

from distsim.hardware.cost import tier_time


@dataclass(frozen=True)
class Tier:
    """A place activations are stored: its latencies and optional bandwidth, and its capacity."""

    load_latency: float = 0.0
    store_latency: float = 0.0
    bandwidth: float | None = None
    capacity: float | None = None  # bytes; None: unlimited

    def load_time(self, nbytes: int) -> float:
        return tier_time(nbytes, self.load_latency, self.bandwidth)

    def store_time(self, nbytes: int) -> float:
        return tier_time(nbytes, self.store_latency, self.bandwidth)


@dataclass(frozen=True)
class Chain:
    """L layers: sizes of a_0..a_L, forward and backward seconds (and FLOPs) of layers 1..L (index 0 unused)."""

    sizes: tuple[int, ...]
    fwd_s: tuple[float, ...]
    bwd_s: tuple[float, ...]
    fwd_flops: tuple[float, ...]
    bwd_flops: tuple[float, ...]
    memory: Tier  # checkpoints in device memory; capacity is the GPU's memory
    disk: Tier

    @property
    def layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def uniform(self) -> bool:
        """Every activation the same size and every layer the same cost (the closed forms' textbook case)."""
        return len(set(self.sizes)) == 1 and len(set(self.fwd_s[1:])) <= 1 and len(set(self.bwd_s[1:])) <= 1

    @classmethod
    def of(cls, scenario) -> "Chain":
        """The chain of a scenario that passed :func:`chain_problems` (layers given, times known)."""
        model, cluster = scenario.model, scenario.cluster
        layers = layer_list(model)
        flops_per_s = cluster.gpu.flops * cluster.gpu.efficiency  # x 1.0 is exact: f / F as before
        fwd = [0.0] + [seconds_of(l.fwd_time, l.fwd_flops, flops_per_s) for l in layers]
        bwd = [0.0] + [
            seconds_of(l.bwd_time, l.bwd_flops, flops_per_s, default=2 * f) for l, f in zip(layers, fwd[1:])
        ]
        sizes = [int(layers[0].activation)] + [int(l.activation) for l in layers]
        mem, disk = cluster.memory, cluster.disk
        return cls(
            sizes=tuple(sizes),
            fwd_s=tuple(fwd),
            bwd_s=tuple(bwd),
            fwd_flops=(0.0,) + tuple(l.fwd_flops or 0.0 for l in layers),
            bwd_flops=(0.0,) + tuple(l.bwd_flops or 0.0 for l in layers),
            memory=Tier(mem.load_latency, mem.store_latency, mem.bandwidth, cluster.gpu.memory),
            disk=Tier(disk.load_latency, disk.store_latency, disk.bandwidth, disk.capacity),
        )


def seconds_of(time: float | None, flops: float | None, flops_per_s: float, default: float = 0.0) -> float:
    if time is not None:
        return time
    if flops is not None:
        return flops / flops_per_s
    return default


def layer_list(model) -> list:
    """The L layer descriptions: ``per_layer`` as written, or ``layer`` repeated ``layers`` times."""
    per_layer = getattr(model, "per_layer", None)
    if per_layer:
        return list(per_layer)
    return [model.layer] * model.layers


def chain_problems(scenario, where, kind: str) -> list:
    """Located problems that keep a scenario from describing a layer chain (``kind`` names the schedule)."""
    model = scenario.model
    per_layer = getattr(model, "per_layer", None)
    problems = []
    if per_layer:
        if model.layer is not None:
            problems.append(where.problem(("model", "per_layer"), "give either 'layer' (every layer alike) or 'per_layer', not both", at_key=True))
        if model.layers is not None and model.layers != len(per_layer):
            problems.append(where.problem(("model", "layers"), f"layers is {model.layers} but per_layer lists {len(per_layer)} layers"))
        described = [(("model", "per_layer", i), layer) for i, layer in enumerate(per_layer)]
    else:
        if model.layers is None:
            problems.append(where.problem(("model",), f"missing required key 'layers' (the length of the layer chain {kind} runs)", at_key=True))
        if model.layer is None:
            problems.append(where.problem(("model",), "missing required key 'layer' (fwd_time or fwd_flops, bwd_time, activation)", at_key=True))
        described = [(("model", "layer"), model.layer)] if model.layer is not None else []
    for path, layer in described:
        if layer.fwd_time is None and layer.fwd_flops is None:
            problems.append(where.problem(path, "a layer needs 'fwd_time' or 'fwd_flops' (how long its forward pass takes)"))
    return problems
