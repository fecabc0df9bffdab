"""The training-step kind's estimate (see :mod:`distsim.estimate`): messages of its collectives, before it runs.

A step's trace is dominated by the messages of its buckets' collectives. Which
algorithm each bucket uses (``auto``) is only known once the cluster is built, so
the count is that of a ring: ``2 n (n-1)`` messages per all-reduce (a reduce-scatter
and an all-gather of ``n (n-1)`` each), an upper estimate for the hierarchical and
tree algorithms that ``auto`` picks on large clusters. ZeRO-3 also gathers every
layer's weights before its forward and its backward. The ops of the rank programs
(a few per layer) are counted alongside.
"""

from __future__ import annotations

import math

from distsim import estimate
from distsim.estimate import Estimate
from distsim.workload import layers_of

OPS_PER_LAYER = 8  # per rank: forward, backward, their stream marks and memory changes (gpt-7b, 64 ranks: ~7)


def estimate_training(scenario, strategy) -> Estimate | None:
    """Messages (ring counts), ranks, cables and the bound on one event's time; None while the scenario lacks
    the model's layers or a network (``fits`` says which)."""
    model, cluster = scenario.model, scenario.cluster
    described = getattr(model, "kind", None) == "transformer" or bool(model.per_layer) or model.layer is not None
    if not described or (cluster.network is None and cluster.nodes is None and cluster.workers > 1):
        return None
    q, n = strategy.params, cluster.workers
    layers = layers_of(model)
    params = sum(layer.params for layer in layers)
    e = model.bytes_per_param
    buckets = len(layers) if q.zero == 3 else max(1, math.ceil(params * e / q.bucket))
    gathers = 2 * len(layers) if q.zero == 3 else 0  # each layer's weights before forward and before backward
    messages = (2 * buckets + gathers) * n * (n - 1)
    ops = OPS_PER_LAYER * len(layers) * n
    formula = (f"ring counts: (2 x {buckets:,} buckets" + (f" + {gathers:,} gathers" if gathers else "")
               + f") x n(n-1), n = {n:,}")
    memory = {"trace": (messages + ops) * estimate.BYTES_PER_MESSAGE,  # an op row costs about what a message row does
              "network": estimate.cables(cluster, ()) * estimate.BYTES_PER_CABLE}
    path = ("cluster", "nodes") if cluster.nodes is not None else ("cluster", "workers")
    largest_bucket = max(q.bucket, max(layer.params for layer in layers) * e)
    terms = estimate.network_terms(cluster, largest_bucket) if n > 1 else []
    terms += [(("cluster", "gpu", "flops"), max(layer.fwd_flops + layer.bwd_flops for layer in layers) / cluster.gpu.flops)]
    return Estimate(messages + ops, "messages", formula, 1 / estimate.MESSAGES_PER_SECOND, memory, path, ranks=n,
                    terms=tuple(terms))
