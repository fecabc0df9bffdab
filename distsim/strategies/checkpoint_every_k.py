"""The exam's scheme: keep the input and every k-th activation; recompute each layer from below.

exam.md problem 2: "During the initial forward pass only the input and the
activations of every 5th layer are stored. During backpropagation, to get the
activation of layer i, load the last stored activation at or below i from memory
and rerun forward through the layers after it up to i. Recomputed activations are
not kept."
"""

from __future__ import annotations

from pydantic import Field

from distsim.remat import MEM, Builder
from distsim.strategies.remat import RematParams, RematStrategy, indices


class CheckpointEveryKParams(RematParams):
    k: int | None = Field(None, ge=1, description="checkpoint interval: a_k, a_2k, ... are stored; unset: round(sqrt(L))")


class CheckpointEveryK(RematStrategy):
    name = "checkpoint_every_k"
    summary = "the exam's scheme: store every k-th activation, recompute each layer from the last one below it"
    sized_by = "k"
    Params = CheckpointEveryKParams

    def schedule(self, chain):
        L, k = chain.layers, self.size(chain)
        b = Builder(L, self.params.input_load)
        b.forward_pass(lambda i: MEM if i % k == 0 else None)  # the input and every k-th activation
        for i in range(L, 0, -1):
            base = k * (i // k)  # the last stored activation at or below i
            b.load(base)
            for j in range(base + 1, i + 1):
                b.fwd(j)
                if j - 1 > base:
                    b.free(j - 1)  # recomputed activations are not kept
            b.bwd(i)
            b.free(i)
            if base < i:
                b.free(base)
            else:
                b.free(base, "mem")  # no layer below needs a_base any more
        b.free(0, "mem")
        return b.build(f"checkpoints {indices(range(0, L + 1, k))} (every {k})", k=k)
