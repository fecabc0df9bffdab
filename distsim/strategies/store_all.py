"""Store every activation in the forward pass; load each in the backward pass (the baseline).

No recomputation; L + 1 activations in memory at the peak.
"""

from __future__ import annotations

from distsim.remat import MEM, Builder
from distsim.strategies.remat import RematStrategy


class StoreAll(RematStrategy):
    name = "store_all"
    summary = "keep every activation: no recomputation, L + 1 activations in memory"

    def schedule(self, chain):
        L = chain.layers
        b = Builder(L, self.params.input_load)
        b.forward_pass(lambda i: MEM)
        for i in range(L, 0, -1):
            b.load(i)
            b.bwd(i)
            b.free(i)
            b.free(i, "mem")
        b.free(0, "mem")
        return b.build(f"every activation stored (a_0 .. a_{L})")
