"""What a rank keeps in device memory for the whole step, by category, under each ZeRO stage.

Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter
Models", SC 2020, section 5: with Ψ parameters, mixed-precision Adam keeps 2Ψ bytes of
16-bit weights, 2Ψ of 16-bit gradients and 12Ψ of fp32 optimizer state (master
weights and two moments) on every data-parallel rank. Stage 1 shards the optimizer
state over the n ranks, stage 2 the gradients too, stage 3 the weights too. Here a
shard is 1/n of each bucket (stages 1 and 2: a reduce-scatter leaves rank i with
shard i of the bucket, and the optimizer updates exactly that) or of each layer
(stage 3: FSDP's unit is the layer, so its buckets are the layers), padded so that
the n shards are equal.

The bytes that come and go during the step are not here: activations (the
rematerialization schedule's), the full gradient of a bucket until its
reduce-scatter ends (stages 2 and 3) and a layer's gathered weights while it is used
(stage 3), both counted as communication buffers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resident:
    """Bytes a rank holds from the start of the step to its end."""

    weights: int
    gradients: int
    optimizer: int


def resident(stage: int, padded: list[int], ranks: int, weight_bytes: int, gradient_bytes: int,
             optimizer_bytes: int) -> Resident:
    """``padded``: the elements of each bucket (stage 3: each layer), padded to a multiple of ``ranks``;
    the other arguments are bytes per element (``state_bytes`` of the workload)."""
    full = sum(padded)
    shard = full // ranks
    return Resident(
        weights=(shard if stage >= 3 else full) * weight_bytes,
        gradients=(shard if stage >= 2 else full) * gradient_bytes,
        optimizer=(shard if stage >= 1 else full) * optimizer_bytes,
    )
