"""All-to-all gradient exchange: every worker sends its whole gradient to every other.

The naive data-parallel exchange (the exam's first scheme): n(n-1) messages of p
parameters. Sends go in pairwise order (at round k, rank r sends to r + k), the
usual schedule for a personalised exchange (Thakur, Rabenseifner & Gropp, IJHPCA
2005): within a round no two senders target the same receiver.
"""

from __future__ import annotations

from distsim.strategies.base import Strategy

EXCHANGE = "exchange"


class AllToAll(Strategy):
    name = "all_to_all"
    summary = "every worker sends its whole gradient to every other: n(n-1) messages of p"

    def programs(self, job):
        for rank in job.workers:
            yield rank, self.worker(job.context(rank), job.gradient(rank), job.world_size)

    def worker(self, ctx, gradient, n):
        rank = ctx.rank
        ctx.allocate(gradient.size * ctx.bytes_per_element, "gradient", "gradients")
        ctx.allocate(gradient.size * ctx.bytes_per_element, "receive buffer", "buffers")
        for k in range(1, n):
            ctx.send((rank + k) % n, gradient, EXCHANGE, k - 1)
        total = gradient.copy()
        for k in range(1, n):
            total += yield ctx.recv((rank - k) % n)
            if self.timed_reductions:
                yield ctx.compute("reduce", total.size)
        return total / n
