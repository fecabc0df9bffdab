"""Store every activation on the local disk in the forward pass; load each back when it is needed.

exam.md problem 2's alternative: "store all activations on a local disk and load
each with one loaddisk op (10 of them, no recomputation)". The input stays in
device memory (it is the batch, not an activation).
"""

from __future__ import annotations

from distsim.remat import DISK, MEM, Builder
from distsim.strategies.remat import RematStrategy


class DiskOffload(RematStrategy):
    name = "disk_offload"
    summary = "store every activation on disk, load each back once: L loaddisk ops, no recomputation"

    def schedule(self, chain):
        L = chain.layers
        b = Builder(L, self.params.input_load)
        b.forward_pass(lambda i: DISK if i > 0 else MEM)  # the input stays in memory
        for i in range(L, 0, -1):
            b.load(i, "disk")
            b.bwd(i)
            b.free(i)
            b.free(i, "disk")
        b.free(0, "mem")
        return b.build(f"a_1 .. a_{L} on disk, the input a_0 in memory")
