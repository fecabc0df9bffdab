"""One collective of the library on every worker: ``strategy: {kind: collective, op: all_reduce, algorithm: tree}``.

Every worker takes part (the group is 0..n-1); ``model.params`` is the buffer as
NCCL counts it (the tensor reduced or broadcast, an all-gather's whole result, an
all-to-all's send buffer). With ``algorithm: auto`` the tuner picks the cheapest
algorithm for this size on this cluster, and the run reports its choice and the
runner-up with their predicted times. Results are checked per rank (a
reduce-scatter's shard, the reduce's root, an all-to-all's blocks) against numpy.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from distsim.collectives import ALGORITHMS, AUTO, OPS, Estimate, Tuning, algorithms_for, collective, refusal, size_refusal
from distsim.collectives.catalog import node_boxes
from distsim.collectives.ops import Options
from distsim.collectives.tuner import ranking
from distsim.engine import split
from distsim.scenario.model import Seconds
from distsim.strategies.base import Strategy

Op = Literal[OPS]
Name = Literal[ALGORITHMS]


class CollectiveParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    op: Op = Field("all_reduce", description="the collective to run on every worker")
    algorithm: Literal[ALGORITHMS + (AUTO,)] = Field(
        "ring", description="an algorithm that implements the op (docs/collectives.md), or 'auto'")
    root: int = Field(0, ge=0, description="broadcast, reduce: the worker that sends or receives the result")
    channels: int = Field(2, ge=1, le=64, description="multi_ring: rings the tensor is split over")
    servers: int = Field(1, ge=1, description="parameter_server: workers that each own a shard")
    candidates: tuple[Name, ...] | None = Field(None, description="auto: the algorithms to choose from (default: all of the op's)")
    efficiency: dict[Name, Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=dict, description="auto: bandwidth factor per algorithm, as NCCL's tuner (default 1)")
    base_latency: dict[Name, Seconds] = Field(default_factory=dict, description="auto: latency per call per algorithm (default 0)")

    @field_validator("algorithm")
    @classmethod
    def _implements_op(cls, name: str, info: ValidationInfo) -> str:
        op = info.data.get("op")
        if name == AUTO or op is None:
            return name
        why = refusal(op, name, 2)
        if why:
            raise ValueError(why)
        return name

    @field_validator("candidates", "efficiency", "base_latency")
    @classmethod
    def _known_algorithms(cls, value, info: ValidationInfo):
        op = info.data.get("op")
        names = value or ()
        unknown = [name for name in names if op is not None and name not in algorithms_for(op)]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not {op} algorithms; {op} algorithms: {', '.join(algorithms_for(op))}")
        return value


class Collective(Strategy):
    name = "collective"
    summary = "one collective of the library (op, algorithm or auto) on every worker; see docs/collectives.md"
    Params = CollectiveParams
    result = "per_rank"

    @property
    def label(self) -> str:
        """How outputs name this run (several collectives can share one scenario)."""
        return f"collective-{self.params.op}-{self.params.algorithm}"

    @property
    def tuning(self) -> Tuning:
        q = self.params
        return Tuning(q.efficiency, q.base_latency, q.candidates, q.channels, q.servers)

    def plan(self, tiers, workers: int, nbytes: float) -> list[Estimate]:
        """The algorithm to run first, then the others auto considered (cheapest first); one entry unless auto."""
        group = tuple(range(workers))
        if self.params.algorithm != AUTO:
            return [Estimate(self.params.algorithm, float("nan"), float("nan"))]
        return ranking(self.params.op, nbytes, group, tiers, self.tuning)

    def problems(self, workers: int, params: int, nodes) -> list[tuple[tuple, str]]:
        """(field path, what is wrong) for this cluster and buffer: what the scenario check reports, located."""
        q, found = self.params, []
        if q.root >= workers and q.op in ("broadcast", "reduce"):
            found.append((("root",), f"worker {q.root} does not exist (workers are 0..{workers - 1})"))
        why = size_refusal(q.op, workers, params)
        if why:
            found.append(((), why))
        boxes = tuple(len(box) for box in node_boxes(tuple(range(workers)), nodes))
        names = [q.algorithm] if q.algorithm != AUTO else list(q.candidates or algorithms_for(q.op))
        refused = [refusal(q.op, name, workers, channels=q.channels, servers=q.servers, box_sizes=boxes) for name in names]
        if q.algorithm != AUTO and refused[0]:
            field = "servers" if q.algorithm == "parameter_server" else "algorithm"
            found.append(((field,), refused[0]))
        elif q.algorithm == AUTO and all(refused):
            found.append((("candidates",), f"no candidate can run {q.op} on {workers} workers: {refused[0]}"))
        return found

    def programs(self, job):
        nbytes = job.gradient(0).size * job.context(0).bytes_per_element
        algorithm = self.plan(job.tiers, job.world_size, nbytes)[0].algorithm
        group = tuple(job.workers)
        options = Options(root=self.params.root, channels=self.params.channels, servers=self.params.servers,
                          nodes=job.nodes, tiers=job.tiers, tuning=self.tuning)
        for rank in job.workers:
            yield rank, self.worker(job.context(rank), group, job.gradient(rank), algorithm, options)

    def worker(self, ctx, group, gradient, algorithm: str, options: Options):
        n, op = len(group), self.params.op
        tensor = split(gradient, n)[group.index(ctx.rank)] if op == "all_gather" else gradient
        ctx.allocate(2 * gradient.size * ctx.bytes_per_element, "send and receive buffers")
        return (yield from collective(op, ctx, group, tensor, algorithm, op, options))

    def facts(self, job) -> dict:
        """What auto chose (and the runner-up), for the run's output."""
        q = self.params
        nbytes = job.gradient(0).size * job.context(0).bytes_per_element
        ranked = self.plan(job.tiers, job.world_size, nbytes)
        found = {"op": q.op, "requested": q.algorithm, "algorithm": ranked[0].algorithm}
        if q.algorithm == AUTO:
            found["predicted_s"] = ranked[0].seconds
            if len(ranked) > 1:
                found.update(runner_up=ranked[1].algorithm, runner_up_predicted_s=ranked[1].seconds)
        return found

    def expected(self, gradients: np.ndarray, weights: np.ndarray) -> list:
        """Each worker's result, computed directly with numpy (rows of ``gradients`` are the workers')."""
        n, op, root = len(gradients), self.params.op, self.params.root
        total = gradients.sum(axis=0)
        blocks = [np.split(g, n) for g in gradients] if op in ("all_gather", "all_to_all") else None
        if op == "all_reduce":
            return [total] * n
        if op == "reduce_scatter":
            return np.split(total, n)
        if op == "all_gather":
            return [np.concatenate([blocks[i][i] for i in range(n)])] * n
        if op == "broadcast":
            return [gradients[root]] * n
        if op == "reduce":
            return [total if i == root else None for i in range(n)]
        return [np.concatenate([blocks[i][j] for i in range(n)]) for j in range(n)]  # all_to_all
