"""Gradient buckets: which gradient elements travel together, and when each bucket is full.

PyTorch DDP (Li et al., "PyTorch Distributed: Experiences on Accelerating Data
Parallel Training", VLDB 2020, section 3.2.3) groups gradients into buckets of
``bucket_cap_mb`` (25 MB by default) in the reverse order of the model's layers, the
order in which the backward pass produces them, and starts a bucket's all-reduce as
soon as every gradient in it is ready. Here a layer (a transformer block) is one
gradient, produced when its backward step ends; a layer larger than the room left in
a bucket is cut at the bucket's edge (DDP cuts between a block's parameter tensors;
cutting inside one moves no more bytes and keeps bucket sizes equal). The last bucket
holds what is left when the first layer's backward ends.

A bucket's elements are padded up to a multiple of the group size, so that a
reduce-scatter splits it into equal shards (FSDP pads its flat parameter the same way).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    """Elements ``start`` .. ``stop - 1`` of layer ``layer``'s gradient (layers counted from 0)."""

    layer: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Bucket:
    index: int  # 0 is the first to fill (the top layers)
    pieces: tuple[Piece, ...]  # in the order the backward pass fills them
    elements: int
    padded: int  # elements rounded up to a multiple of the group size

    @property
    def ready_after(self) -> int:
        """The layer whose backward step fills it: the lowest layer it holds."""
        return self.pieces[-1].layer


def plan_buckets(params: list[int], capacity: int, multiple: int = 1) -> tuple[Bucket, ...]:
    """Buckets of ``capacity`` elements (the last may hold fewer) over layers of ``params`` elements, filled
    from the last layer to the first; each padded up to a multiple of ``multiple``."""
    if capacity < 1:
        raise ValueError(f"a bucket holds at least one element, not {capacity}")
    buckets, pieces, filled = [], [], 0

    def close():
        nonlocal pieces, filled
        buckets.append(Bucket(len(buckets), tuple(pieces), filled, padded_to(filled, multiple)))
        pieces, filled = [], 0

    for layer in range(len(params) - 1, -1, -1):
        start = 0
        while start < params[layer]:
            take = min(params[layer] - start, capacity - filled)
            pieces.append(Piece(layer, start, start + take))
            filled += take
            start += take
            if filled == capacity:
                close()
    if pieces:
        close()
    return tuple(buckets)


def layer_buckets(params: list[int], multiple: int = 1) -> tuple[Bucket, ...]:
    """One bucket per layer (that has parameters), from the last layer to the first: FSDP reduces each unit's gradient."""
    layers = [layer for layer in range(len(params) - 1, -1, -1) if params[layer]]
    return tuple(Bucket(k, (Piece(layer, 0, params[layer]),), params[layer], padded_to(params[layer], multiple))
                 for k, layer in enumerate(layers))


def padded_to(elements: int, multiple: int) -> int:
    """``elements`` rounded up to a multiple of ``multiple``."""
    return -(-elements // multiple) * multiple


def ready_by_layer(buckets: tuple[Bucket, ...]) -> dict[int, list[Bucket]]:
    """Layer -> the buckets its backward step completes, in order."""
    found: dict[int, list[Bucket]] = {}
    for bucket in buckets:
        found.setdefault(bucket.ready_after, []).append(bucket)
    return found
