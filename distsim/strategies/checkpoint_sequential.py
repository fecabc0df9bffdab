"""PyTorch's ``torch.utils.checkpoint.checkpoint_sequential(functions, segments, input)``.

PyTorch splits the L layers into chunks of m = L // segments; the first
segments − 1 chunks are checkpointed (only their input is saved, and the whole
chunk is rerun in the backward pass), and the last chunk, with the remaining
L − (segments − 1)·m layers, runs normally: every activation it makes is saved.
This schedule follows those rules so that users can predict what their PyTorch
code recomputes and keeps. In the exam's counting, using a saved activation is a
loadmem, and a rerun chunk is kept until its backward steps are done.
"""

from __future__ import annotations

from pydantic import Field

from distsim.remat import MEM, Builder
from distsim.strategies.remat import RematParams, RematStrategy, indices


class CheckpointSequentialParams(RematParams):
    segments: int | None = Field(None, ge=1, description="number of chunks, as in PyTorch; unset: round(sqrt(L))")


class CheckpointSequential(RematStrategy):
    name = "checkpoint_sequential"
    summary = "PyTorch's checkpoint_sequential: rerun every chunk but the last, whose activations are all saved"
    sized_by = "segments"
    Params = CheckpointSequentialParams

    def schedule(self, chain):
        L, n = chain.layers, self.size(chain)
        m = L // n
        last = (n - 1) * m  # input of the last chunk, which is not checkpointed
        b = Builder(L, self.params.input_load)
        # a checkpointed chunk's input, or anything the last (not checkpointed) chunk saves
        b.forward_pass(lambda i: MEM if (i % m == 0 and i < last) or i >= last else None)
        for i in range(L, last, -1):  # the last chunk: its saved activations
            b.load(i)
            b.bwd(i)
            b.free(i)
            b.free(i, "mem")
        if last > 0:
            b.free(last, "mem")  # the last chunk's input, saved by it; chunk n-2 recomputes it
        for start in range(last - m, -1, -m):  # checkpointed chunks, from the top
            b.load(start)
            for j in range(start + 1, start + m + 1):
                b.fwd(j)  # the whole chunk is rerun and kept
            for i in range(start + m, start, -1):
                b.bwd(i)
                b.free(i)
            b.free(start)
            if start > 0:
                b.free(start, "mem")
        b.free(0, "mem")
        checkpointed = indices(range(0, last, m)) if n > 1 else "none"
        return b.build(f"{n} chunks of {m} layers (the last has {L - last}); chunk inputs saved: {checkpointed}", segments=n)
