"""The rematerialization family's estimate (see :mod:`distsim.estimate`): ops from the closed forms.

A schedule's size is what its closed form says it recomputes (``analysis.remat``,
an independent derivation) plus a fixed number of entries per layer; its
planning cost is what the strategy says its planner computes. The constants are
measurements of this code, named where they are defined.
"""

from __future__ import annotations

from distsim.analysis.remat import FORMS, RematInputs
from distsim import estimate
from distsim.estimate import Estimate
from distsim.remat.chain import Chain, seconds_of

OPS_PER_LAYER = 7  # store_all writes 7,003 schedule entries at L = 1,000 (forward, store, load, backward, frees)
OPS_PER_RERUN = 2  # a recomputed forward op and the free after it (checkpoint_every_k, L = 1,000: 35,889 entries)
SECONDS_PER_OP = 1e-5  # building, checking and simulating a schedule: ~100,000 entries/s (store_all, L = 1e5)
BYTES_PER_OP = 270  # store_all, L = 1e5: 700,003 entries, 186 MB above the interpreter
BYTES_PER_PLAN_STATE = 100  # optimal, L = 1e5, 316 slots: 3.2e7 cached minima, 3.3 GB peak


def estimate_rematerialization(scenario, strategy) -> Estimate | None:
    """Ops, memory and the op-time bound of ``strategy``'s schedule on ``scenario``'s chain (None while the
    chain is not described: ``fits`` says what is missing)."""
    per_layer = getattr(scenario.model, "per_layer", None)
    layers = len(per_layer) if per_layer else scenario.model.layers
    described = per_layer or ([scenario.model.layer] if scenario.model.layer is not None else [])
    if not layers or not described or any(l.fwd_time is None and l.fwd_flops is None for l in described):
        return None
    chain = Chain.of(scenario) if OPS_PER_LAYER * layers <= estimate.MAX_OPS else None  # O(L): only if it may run
    reruns, how = _reruns(strategy, chain) if chain else (0, "at least 7 per layer")
    ops = OPS_PER_LAYER * layers + OPS_PER_RERUN * reruns
    planning = strategy.planning_states(layers) if hasattr(strategy, "planning_states") else 0
    memory = {"schedule": ops * BYTES_PER_OP, "planner": planning * BYTES_PER_PLAN_STATE}
    path = ("model", "per_layer") if per_layer else ("model", "layers")
    seconds = SECONDS_PER_OP * (1 + planning / max(ops, 1))
    return Estimate(ops, "ops", f"{how}, L = {layers:,}", seconds, memory, path,
                    terms=tuple(_op_times(scenario)))


def _reruns(strategy, chain: Chain) -> tuple[int, str]:
    """Forward ops the backward pass reruns, from the schedule's closed form, and how the ops were counted."""
    form = FORMS.get(strategy.name)
    if form is None:
        return 0, "7 per layer; no closed form for the recomputations, so at least"
    params = {"input_load": getattr(strategy.params, "input_load", False)}
    if getattr(strategy, "sized_by", None):
        params[strategy.sized_by] = strategy.size(chain)
    if hasattr(strategy.params, "slots"):  # with a byte budget the planner picks the slots: take the default
        from distsim.strategies.remat import sqrt_default

        params["slots"] = strategy.params.slots or sqrt_default(chain.layers)
    inputs = RematInputs(strategy.name, chain.sizes, chain.fwd_s, chain.bwd_s, chain.memory.load_time,
                         chain.disk.load_time, params=params)
    expected = form(inputs).fwd
    return int(expected.value), f"7 per layer + 2 per recomputation, {int(expected.value):,} recomputations: {expected.text}"


def _op_times(scenario) -> list[tuple[tuple, float]]:
    """(field, the longest one op can take because of it): forward, backward, loads and stores.

    Read from the layer descriptions (one when every layer is alike), not from a chain of L layers.
    """
    per_layer = getattr(scenario.model, "per_layer", None)
    described = list(enumerate(per_layer)) if per_layer else [(None, scenario.model.layer)]
    flops = scenario.cluster.gpu.flops * scenario.cluster.gpu.efficiency
    terms = []
    for index, layer in described:
        base = ("model", "per_layer", index) if per_layer else ("model", "layer")
        fwd = seconds_of(layer.fwd_time, layer.fwd_flops, flops)
        bwd = seconds_of(layer.bwd_time, layer.bwd_flops, flops, default=2 * fwd)
        terms += [(_field(scenario, base, layer, "fwd"), fwd), (_field(scenario, base, layer, "bwd"), bwd)]
    biggest = max(layer.activation for _, layer in described)
    for name in ("memory", "disk"):
        tier = getattr(scenario.cluster, name)
        for verb in ("load", "store"):
            latency = getattr(tier, f"{verb}_latency")
            transfer = biggest / tier.bandwidth if tier.bandwidth else 0.0
            terms.append((("cluster", name, "bandwidth" if transfer > latency else f"{verb}_latency"), latency + transfer))
    return terms


def _field(scenario, base: tuple, layer, step: str) -> tuple:
    """Where a layer's forward or backward time comes from: its time, its FLOPs, or the GPU's rate."""
    if getattr(layer, f"{step}_time") is not None:
        return base + (f"{step}_time",)
    if getattr(layer, f"{step}_flops") is not None:
        return ("cluster", "gpu", "flops") if scenario.cluster.gpu.flops < 1 else base + (f"{step}_flops",)
    return _field(scenario, base, layer, "fwd")  # backward defaults to twice the forward
