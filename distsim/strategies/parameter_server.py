"""Parameter server: workers push gradients, the server averages, updates and pushes weights back.

Li et al., "Scaling distributed machine learning with the parameter server",
OSDI 2014 (here with one server shard). 2n messages of p parameters: n pushes and
n pulls. The server is a node of its own (with its own link) unless ``server``
names a worker to share a node with; then that worker's push and pull are local
copies, not network messages.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from distsim.engine import zeros_like
from distsim.strategies.base import Params, Strategy

PUSH, PULL = "push", "pull"


class ParameterServerParams(Params):
    server: Literal["dedicated"] | int = Field(
        "dedicated", description="'dedicated' (a node of its own) or the rank of the worker it shares a node with"
    )
    lr: float = Field(0.1, gt=0, description="learning rate of the server's SGD update")


class ParameterServer(Strategy):
    name = "parameter_server"
    summary = "workers push gradients to one server, which updates and sends weights back: 2n messages of p"
    Params = ParameterServerParams
    result = "sgd_weights"

    def expected(self, gradients, weights):
        return weights - self.params.lr * gradients.mean(axis=0)

    def extra_ranks(self):
        server = self.params.server
        return [("ps", None if server == "dedicated" else server)]

    def programs(self, job):
        server = job.world_size  # the rank after the workers
        for rank in job.workers:
            yield rank, self.worker(job.context(rank), job.gradient(rank), server)
        yield server, self.server(job.context(server), job.weights, job.workers)

    def worker(self, ctx, gradient, server):
        ctx.allocate(gradient.size * ctx.bytes_per_element, "gradient", "gradients")
        ctx.send(server, gradient, PUSH)
        weights = yield ctx.recv(server)
        return weights

    def server(self, ctx, weights, workers):
        ctx.allocate(weights.size * ctx.bytes_per_element, "weights", "weights")
        ctx.allocate(weights.size * ctx.bytes_per_element, "gradient sum", "gradients")
        total = zeros_like(weights)
        for rank in workers:
            total += yield ctx.recv(rank)
            if self.timed_reductions:
                yield ctx.compute("reduce", total.size)
        weights = weights - self.params.lr * (total / len(workers))
        if self.timed_reductions:  # the SGD update: a scale and a subtract
            yield ctx.compute("reduce", 2 * weights.size)
        for rank in workers:
            ctx.send(rank, weights, PULL)
        return weights
