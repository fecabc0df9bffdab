"""The training-step kind's estimate (see :mod:`distsim.estimate`): the messages of its collectives, before it runs.

A step's trace is dominated by the messages of its buckets' collectives. The estimate
lists the step's collectives as the analyzer does (``analysis.training.step_calls``),
resolves each one's algorithm as the run will (the scenario's, or ``auto``'s choice
on this cluster, ``collectives.ops.resolve``) and counts its messages with the
closed forms' own count (``analysis.collectives.message_count``), without building
any of their rounds. Placing the ranks (the cluster's routes) takes a fraction of a
second at the rank limit; beyond it the ranks alone are refused. The ops of the rank
programs (a few per layer and two per collective, on every rank) are counted alongside.
"""

from __future__ import annotations

from distsim import estimate
from distsim.analysis.collectives import CollectiveCall, message_count
from distsim.analysis.training import step_calls
from distsim.collectives.ops import Options, resolve
from distsim.errors import DistsimError
from distsim.estimate import Estimate
from distsim.runner import layout, nodes_and_tiers
from distsim.scenario import Locations
from distsim.training.plan import chain_of, remat_of
from distsim.training.run import remat_form
from distsim.workload import layers_of

# Ops per rank: a few per layer (forward, backward, recomputations, memory changes) and two per collective (its
# marks on the communication stream). gpt7b_64gpu.yaml: 2,152 per rank for 34 layers and 1,016 collectives.
OPS_PER_LAYER, OPS_PER_COLLECTIVE = 4, 2
# A step's event (message or op) costs more than a bare ring's message: collective bookkeeping, two streams,
# memory. Measured 2026-12-03: 11 us (64 GPUs), 23 us (1,024, 7 buckets), 28 us (1,024, 25 MiB buckets).
SECONDS_PER_EVENT = 2e-5


def estimate_training(scenario, strategy) -> Estimate | None:
    """Messages, ops, ranks, cables and the bound on one event's time; None while the scenario lacks what
    the count needs (the model's layers, a network, a schedule, ranks that can be placed: ``fits`` says which)."""
    model, cluster = scenario.model, scenario.cluster
    described = getattr(model, "kind", None) == "transformer" or bool(model.per_layer) or model.layer is not None
    if not described or (cluster.network is None and cluster.nodes is None and cluster.workers > 1):
        return None
    q, n = strategy.params, cluster.workers
    path = ("cluster", "nodes") if cluster.nodes is not None else ("cluster", "workers")
    layers = layers_of(model)
    e = model.bytes_per_param
    largest_bucket = max(q.bucket, max(layer.params for layer in layers) * e)
    terms = estimate.network_terms(cluster, largest_bucket) if n > 1 else []
    terms += [(("cluster", "gpu", "flops"), max(layer.fwd_flops + layer.bwd_flops for layer in layers) / cluster.gpu.flops)]
    network = {"network": estimate.cables(cluster, ()) * estimate.BYTES_PER_CABLE}
    if n > estimate.MAX_RANKS:  # the ranks alone are refused: not worth placing them to count messages
        return Estimate(None, "messages", "not counted", SECONDS_PER_EVENT, network, path, ranks=n,
                        terms=tuple(terms))
    counted = _messages(scenario, strategy, layers) if n > 1 else (0, 0, "one rank: no messages")
    if counted is None:
        return None
    messages, collectives, formula = counted
    ops = (OPS_PER_LAYER * len(layers) + OPS_PER_COLLECTIVE * collectives) * n
    memory = {"trace": (messages + ops) * estimate.BYTES_PER_MESSAGE, **network}  # an op row costs about a message row
    return Estimate(messages + ops, "messages", formula, SECONDS_PER_EVENT, memory, path, ranks=n,
                    terms=tuple(terms))


def _messages(scenario, strategy, layers) -> tuple[int, int, str] | None:
    """(messages of the step's collectives, how many collectives, how they were counted), or None if the step
    cannot be planned."""
    q, n, e = strategy.params, scenario.cluster.workers, scenario.model.bytes_per_param
    remat = getattr(strategy, "remat", None) or remat_of(strategy)[0]
    if remat is None:
        return None
    try:
        where_ranks = layout(scenario, strategy, Locations("<estimate>"))
        nodes, tiers = nodes_and_tiers(scenario, where_ranks)
        _, calls = step_calls([layer.params for layer in layers], max(1, int(q.bucket // e)), q.zero, n,
                              remat_form(remat, chain_of(layers, scenario.cluster)))
        group, options, counts = tuple(range(n)), Options(nodes=nodes, tiers=tiers), {}
        for call in calls:
            key = (call.op, call.elements)
            if key not in counts:
                algorithm = resolve(call.op, q.algorithm, group, call.elements * e, options)
                counts[key] = algorithm, message_count(CollectiveCall(call.op, algorithm, group, call.elements, e,
                                                                      nodes=nodes or None))[0]
    except DistsimError:  # ranks that cannot be placed, an algorithm that cannot run: fits says so
        return None
    by_algorithm: dict[str, int] = {}
    for call in calls:
        algorithm, count = counts[(call.op, call.elements)]
        by_algorithm[f"{call.op} by {algorithm}"] = by_algorithm.get(f"{call.op} by {algorithm}", 0) + 1
    text = ", ".join(f"{calls_} x {what}" for what, calls_ in by_algorithm.items())
    return sum(counts[(c.op, c.elements)][1] for c in calls), len(calls), f"{len(calls):,} collectives: {text}"
