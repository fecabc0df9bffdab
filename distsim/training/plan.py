"""Everything a step is made of before it runs: layers, the remat schedule, buckets, memory, weight uses.

Built once per run from the scenario and the strategy (``plan_step``); the rank
programs and the verification read it, nothing changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from distsim.remat.chain import Chain, Tier
from distsim.remat.schedule import BWD, FWD, Schedule
from distsim.training.buckets import Bucket, layer_buckets, padded_to, plan_buckets, ready_by_layer
from distsim.training.memory import Resident, resident
from distsim.workload import LayerSpec, layers_of, state_bytes

STORE_ALL = "store_all"


@dataclass(frozen=True, eq=False, repr=False)
class Use:
    """One compute op's use of a layer's weights (ZeRO-3 gathers them before it unless the previous op used them)."""

    layer: int
    count: int  # how many uses of this layer came before (names its gather's phase)
    next: "Use | None" = None


@dataclass(frozen=True)
class StepPlan:
    layers: tuple[LayerSpec, ...]
    schedule: Schedule
    activation_sizes: tuple[int, ...]  # a_0 .. a_L: what each layer keeps for its backward (a_0: the input)
    buckets: tuple[Bucket, ...]
    layer_padded: tuple[int, ...]  # each layer's elements, padded to a multiple of the ranks (ZeRO-3 shards)
    resident: Resident
    element_bytes: int  # of weights and gradients (the model's dtype)
    optimizer_bytes: int  # bytes the optimizer reads and writes per parameter it updates
    memory: Tier
    disk: Tier
    uses: tuple[Use, ...]
    ready: dict[int, list[Bucket]] = field(default_factory=dict)  # layer -> the buckets its backward step fills


def remat_of(strategy):
    """(the rematerialization strategy the step follows, [(path, problem)], a ValidationError of its parameters or None)."""
    from distsim.strategies.registry import UnknownStrategy, get  # here: the registry lists the step's strategy

    written = dict(strategy.params.remat or {"kind": STORE_ALL})
    kind = written.pop("kind", None)
    if not isinstance(kind, str):
        return None, [(("remat",), "missing required key 'kind' (a rematerialization schedule, e.g. checkpoint_every_k)")], None
    try:
        cls = get(kind)
    except UnknownStrategy as exc:
        known = [name for name in exc.known if getattr(get(name), "family", "") == "rematerialization"]
        return None, [(("remat", "kind"), f"unknown schedule {kind!r}; known: {', '.join(known)}")], None
    if getattr(cls, "family", "") != "rematerialization":
        return None, [(("remat", "kind"), f"{kind!r} is not a rematerialization schedule")], None
    try:
        return cls(cls.Params.model_validate(written)), [], None
    except ValidationError as exc:
        return None, [], exc


def chain_of(layers: list[LayerSpec], cluster) -> Chain:
    """The layer chain a remat schedule plans on: a_i is what layer i keeps for its backward (Korthikanti et al.);
    a_0, the input, has a_1's size (the rematerialization convention); times are flops / peak (or given)."""
    peak = cluster.gpu.flops
    sizes = [int(layers[0].activation_bytes)] + [int(layer.activation_bytes) for layer in layers]
    fwd = [0.0] + [layer.fwd_time if layer.fwd_time is not None else layer.fwd_flops / peak for layer in layers]
    bwd = [0.0] + [layer.bwd_time if layer.bwd_time is not None else layer.bwd_flops / peak for layer in layers]
    mem, disk = cluster.memory, cluster.disk
    return Chain(tuple(sizes), tuple(fwd), tuple(bwd), (0.0,) + tuple(l.fwd_flops for l in layers),
                 (0.0,) + tuple(l.bwd_flops for l in layers),
                 Tier(mem.load_latency, mem.store_latency, mem.bandwidth, cluster.gpu.memory),
                 Tier(disk.load_latency, disk.store_latency, disk.bandwidth, disk.capacity))


def plan_step(scenario, strategy, layers: list[LayerSpec] | None = None, remat=None,
              bucket_elements: int | None = None) -> StepPlan:
    """The plan of ``strategy``'s step on ``scenario`` (``layers`` and ``bucket_elements``: the model's layers and the
    strategy's bucket, unless given: a verification run's)."""
    q, n = strategy.params, scenario.cluster.workers
    layers = tuple(layers if layers is not None else layers_of(scenario.model))
    chain = chain_of(list(layers), scenario.cluster)
    schedule = (remat or remat_of(strategy)[0]).schedule(chain)
    e = scenario.model.bytes_per_param
    state = state_bytes(e, scenario.model.optimizer)
    params = [layer.params for layer in layers]
    layer_padded = tuple(padded_to(p, n) for p in params)
    if q.zero == 3:  # FSDP's unit is the layer: one bucket per layer
        buckets = layer_buckets(params, n)
    else:
        capacity = bucket_elements if bucket_elements is not None else max(1, int(q.bucket // e))
        buckets = plan_buckets(params, capacity, n if q.zero else 1)
    return StepPlan(
        layers=layers, schedule=schedule, activation_sizes=chain.sizes, buckets=buckets, layer_padded=layer_padded,
        resident=resident(q.zero, [b.padded for b in buckets], n, state.weights, state.gradients, state.optimizer),
        element_bytes=e, optimizer_bytes=2 * state.gradients + 2 * state.optimizer, memory=chain.memory,
        disk=chain.disk, uses=weight_uses(schedule), ready=ready_by_layer(buckets),
    )


def weight_uses(schedule: Schedule) -> tuple[Use, ...]:
    """Every compute op's use of its layer's weights, in order, each pointing at the next."""
    layers = [i - 1 for kind, i, _ in schedule.ops if kind in (FWD, BWD)]
    counts: dict[int, int] = {}
    order = []
    for layer in layers:
        order.append((layer, counts.get(layer, 0)))
        counts[layer] = counts.get(layer, 0) + 1
    uses, after = [], None
    for layer, count in reversed(order):
        after = Use(layer, count, after)
        uses.append(after)
    return tuple(reversed(uses))
