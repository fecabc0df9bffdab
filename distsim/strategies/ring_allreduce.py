"""Ring all-reduce: reduce-scatter in n-1 steps, then all-gather in n-1 steps.

Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for clusters of
workstations", JPDC 2009; popularised for deep learning by Baidu (Gibiansky 2017)
and Horovod. Each rank splits its gradient into n chunks (sizes differ by at most
one element when n does not divide p) and only ever talks to its ring neighbours.
"""

from __future__ import annotations

from distsim.engine import join, split
from distsim.strategies.base import Strategy

REDUCE_SCATTER, ALL_GATHER = "reduce_scatter", "all_gather"


class RingAllReduce(Strategy):
    name = "ring_allreduce"
    summary = "reduce-scatter then all-gather around a logical ring: 2n(n-1) messages of p/n"

    def programs(self, job):
        for rank in job.workers:
            yield rank, self.worker(job.context(rank), job.gradient(rank), job.world_size)

    def worker(self, ctx, gradient, n):
        rank, sendrecv, timed = ctx.rank, ctx.sendrecv, self.timed_reductions
        right, left = (rank + 1) % n, (rank - 1) % n
        chunks = split(gradient, n)
        ctx.allocate(gradient.size * ctx.bytes_per_element, "gradient", "gradients")

        # Reduce-scatter: at step s, pass chunk (rank - s) on and add the incoming
        # chunk (rank - s - 1) to ours. After n-1 steps, chunk (rank + 1) holds the full sum.
        for step in range(n - 1):
            out, into = (rank - step) % n, (rank - step - 1) % n
            chunks[into] += yield sendrecv(right, chunks[out], left, REDUCE_SCATTER, step)
            if timed:
                yield ctx.compute("reduce", chunks[into].size)

        # All-gather: pass the fully reduced chunks around the ring, replacing ours.
        for step in range(n - 1):
            out, into = (rank + 1 - step) % n, (rank - step) % n
            chunks[into] = yield sendrecv(right, chunks[out], left, ALL_GATHER, step)

        return join(chunks) / n  # the sum becomes the mean
