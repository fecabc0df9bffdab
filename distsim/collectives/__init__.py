"""Collective operations as composable pieces, with a choice of algorithm.

``from distsim.collectives import all_reduce`` and, inside a rank program,
``total = yield from all_reduce(ctx, group, tensor, algorithm="tree")``. Each
algorithm is one file here, citing its source; ``catalog.py`` says which
algorithm implements which collective and when one cannot run; ``tuner.py`` is the
cost model behind ``algorithm="auto"``. See docs/collectives.md.

This package sits beside ``strategies/``: it uses only the engine's Context and
tensors. The analyzer never imports it (its closed forms are derived separately).
"""

from distsim.collectives.catalog import ALGORITHMS, CATALOG, OPS, algorithms_for, refusal, size_refusal
from distsim.collectives.ops import AUTO, all_gather, all_reduce, all_to_all, broadcast, collective, reduce, reduce_scatter
from distsim.collectives.peers import CollectiveError
from distsim.collectives.tuner import Estimate, Tiers, Tier, Tuning

__all__ = [
    "ALGORITHMS", "AUTO", "CATALOG", "OPS", "CollectiveError", "Estimate", "Tiers", "Tier", "Tuning",
    "algorithms_for", "all_gather", "all_reduce", "all_to_all", "broadcast", "collective", "reduce",
    "reduce_scatter", "refusal", "size_refusal",
]
