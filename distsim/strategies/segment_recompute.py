"""Chen et al. 2016, "Training deep nets with sublinear memory cost": recompute each segment once.

The forward pass stores the input and every k-th activation, as in the exam's
scheme. The backward pass takes the segments from the top: it loads the
segment's checkpoint, reruns forward through the segment once and keeps those
activations until the segment's backward steps are done. Each non-checkpoint
activation is recomputed exactly once: L − ⌊L/k⌋ extra forward ops, and about
2√L activations in memory for k = √L.
"""

from __future__ import annotations

from pydantic import Field

from distsim.remat import MEM, Builder
from distsim.strategies.remat import RematParams, RematStrategy, indices


class SegmentRecomputeParams(RematParams):
    k: int | None = Field(None, ge=1, description="segment length: a_0, a_k, a_2k, ... are stored; unset: round(sqrt(L))")


class SegmentRecompute(RematStrategy):
    name = "segment_recompute"
    summary = "Chen et al. 2016: store every k-th activation, recompute each segment once and keep it while it is used"
    sized_by = "k"
    Params = SegmentRecomputeParams

    def schedule(self, chain):
        L, k = chain.layers, self.size(chain)
        b = Builder(L, self.params.input_load)
        b.forward_pass(lambda i: MEM if i % k == 0 else None)  # the input and every k-th activation
        for base in range(k * (L // k), -1, -k):  # segments a_base .. a_top, from the top
            top = min(base + k - 1, L)
            if top == 0:
                continue  # the segment of the input alone has no backward step
            b.load(base)
            for j in range(base + 1, top + 1):
                b.fwd(j)  # recomputed once, kept for the whole segment
            for i in range(top, max(base, 1) - 1, -1):
                b.bwd(i)
                b.free(i)
            if base > 0:
                b.free(base, "mem")
            else:
                b.free(0)
        b.free(0, "mem")
        return b.build(f"segments of {k} from checkpoints {indices(range(0, L + 1, k))}", k=k)
