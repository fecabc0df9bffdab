"""One data-parallel training step: forward, backward layer by layer, gradient buckets on the
communication stream, the optimizer step; ZeRO stages 1-3; a rematerialization schedule inside.

Each rank runs the same program on its own micro-batch (docs/training.md):

* **forward and backward** follow the rematerialization schedule (``remat:``, default
  ``store_all``) op by op: ``fwd`` ops before the backward pass are the forward, those
  after it recomputation (op kind ``recompute``); activations are allocated and freed
  as the schedule says, a_i being everything layer i keeps for its backward.
* **buckets** (``training/buckets.py``, PyTorch DDP: Li et al., VLDB 2020) fill in
  reverse layer order; when a layer's backward step fills a bucket, the bucket's
  collective is queued on the rank's communication stream (``overlap: true``), which
  runs its collectives one at a time in issue order, as NCCL does; with ``overlap:
  false`` every bucket waits until the backward pass is over.
* **ZeRO** (Rajbhandari et al., SC 2020): stage 0 all-reduces each bucket; stages 1
  and 2 reduce-scatter it, update their shard and all-gather the updated weights after
  the optimizer step (stage 2 frees each bucket's full gradient once it is reduced);
  stage 3 (FSDP) also all-gathers each layer's weights before every use, the next use's
  weights prefetched while this one computes, and its buckets are the layers.
* **the optimizer step** updates the rank's parameters (all of them, or its shard):
  memory-bound, each byte of gradients, optimizer state and weights read or written once.

With real payloads (verification) the gradients are a numpy network's and the optimizer
is plain SGD, so that every rank's final weights can be checked against one big-batch
step computed directly (``training/verify.py``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from distsim.collectives import ALGORITHMS, AUTO, algorithms_for, collective
from distsim.collectives.ops import Options
from distsim.remat import BWD, FWD, LOAD, STORE, Residency
from distsim.scenario.fields import Bytes

DDP_BUCKET = 25 * 2**20  # PyTorch DDP's bucket_cap_mb = 25, which it reads as MiB (torch/nn/parallel/distributed.py)
GRADIENT_OP = {0: "all_reduce", 1: "reduce_scatter", 2: "reduce_scatter", 3: "reduce_scatter"}


class DataParallelParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    bucket: Bytes = Field(DDP_BUCKET, description="gradient bucket size (PyTorch DDP's bucket_cap_mb: 25 MiB); "
                          "ZeRO-3 reduces each layer's gradient instead")
    overlap: bool = Field(True, description="start each bucket's collective during the backward pass, as it fills; "
                          "false: all of them after it")
    zero: Literal[0, 1, 2, 3] = Field(0, description="ZeRO stage: 0 plain data parallel; 1 shards the optimizer state, "
                                      "2 the gradients too, 3 the weights too (FSDP)")
    algorithm: Literal[ALGORITHMS + (AUTO,)] = Field(
        AUTO, description="the collective algorithm of every bucket (docs/collectives.md), or 'auto' (cheapest per call)")
    remat: dict | None = Field(None, description="the rematerialization schedule the forward and backward follow, "
                               "e.g. {kind: checkpoint_every_k, k: 4}; unset: store_all (nothing recomputed)")
    prefetch: bool = Field(True, description="ZeRO-3 with overlap: gather the next layer's weights while this one computes")


class DataParallel:
    """The data-parallel training step (the ``training`` run kind)."""

    name: ClassVar[str] = "data_parallel"
    summary: ClassVar[str] = ("one training step: forward, backward, gradient buckets overlapped on the communication "
                              "stream, optimizer; ZeRO 0-3, any collective algorithm, a remat schedule inside")
    family: ClassVar[str] = "training"
    min_workers: ClassVar[int] = 1
    Params: ClassVar[type[BaseModel]] = DataParallelParams

    def __init__(self, params: BaseModel | None = None):
        self.params = params if params is not None else self.Params()

    @property
    def label(self) -> str:
        """How outputs name this run (several steps can share one scenario): data_parallel-zero1, ...-no-overlap."""
        return f"{self.name}-zero{self.params.zero}" + ("" if self.params.overlap else "-no-overlap")

    @property
    def ops(self) -> tuple[str, ...]:
        """The collectives this stage runs: on the gradients, then (stages 1-3) on the weights."""
        gradient = GRADIENT_OP[self.params.zero]
        return (gradient,) if self.params.zero == 0 else (gradient, "all_gather")

    def extra_ranks(self) -> list:
        """No ranks beyond the workers (no server)."""
        return []

    def algorithm_problems(self) -> list[tuple[tuple, str]]:
        """(field path, what is wrong) when the algorithm cannot run one of the stage's collectives."""
        name = self.params.algorithm
        missing = [op for op in self.ops if name != AUTO and name not in algorithms_for(op)]
        if not missing:
            return []
        able = [a for a in ALGORITHMS if all(a in algorithms_for(op) for op in self.ops)]
        return [(("algorithm",), f"{name} does not implement {' or '.join(missing)}, which ZeRO stage "
                 f"{self.params.zero} runs; algorithms that implement {' and '.join(self.ops)}: "
                 f"{', '.join(able + [AUTO])}")]

    def programs(self, job):
        for rank in job.workers:
            yield rank, RankStep(job.context(rank), job, self.params).run()


class RankStep:
    """One rank's step; ``run()`` is its program (a generator)."""

    def __init__(self, ctx, job, params: DataParallelParams):
        self.ctx, self.job, self.q = ctx, job, params
        self.options = Options(nodes=job.nodes, tiers=job.tiers)
        self.filled: dict[int, object] = {}  # bucket -> its gradient tensor, once full
        self.reduced: dict[int, object] = {}  # bucket -> the reduced gradient (stage 0) or this rank's shard
        self.weights: dict[int, object] = {}  # bucket (stages 0-2) or layer (3) -> this rank's final weights
        self.gathered: list = []  # stage 3, verification: (layer, the weights a gather brought)
        self.last = None  # the last collective queued on the communication stream
        self.held: dict[int, object] = {}  # stage 3: layer -> its gather, while its weights are in use

    # -- the step -----------------------------------------------------------------------------
    def run(self):
        ctx, job = self.ctx, self.job
        state = job.resident
        ctx.allocate(state.weights, "the weights", "weights")
        ctx.allocate(state.gradients, "the gradient buffers", "gradients")
        ctx.allocate(state.optimizer, "the optimizer state", "optimizer")
        yield from self.forward_backward()
        if not self.q.overlap:
            for bucket in job.buckets:
                self.reduce(bucket)
        if self.last is not None:
            yield self.last
        yield from self.optimizer_step()
        if self.last is not None:
            yield self.last
        return {"weights": self.weights, "gathered": self.gathered}

    def forward_backward(self):
        """The schedule's ops in order: compute, activations in and out, checkpoint loads and stores."""
        ctx, job = self.ctx, self.job
        schedule = job.schedule
        residency = Residency(schedule.layers, job.activation_sizes, schedule.input_load)
        ctx.allocate(job.activation_sizes[0], "the input a_0", "activations")
        boundary = len(schedule.forward)
        uses = iter(job.uses)
        for position, op in enumerate(schedule.ops):
            kind, i, tier = op
            device, _ = residency.apply(op, position)
            if device > 0:
                ctx.allocate(device, f"{op} (schedule op {position})", "activations")
            elif device < 0:
                ctx.release(-device, "activations")
            if kind in (FWD, BWD):
                yield from self.compute(kind, i - 1, position >= boundary, next(uses))
            elif kind in (LOAD, STORE):
                where = job.disk if tier == "disk" else job.memory
                seconds = where.load_time(job.activation_sizes[i]) if kind == LOAD else where.store_time(job.activation_sizes[i])
                if seconds > 0:
                    yield ctx.op(op.name, seconds, nbytes=job.activation_sizes[i], index=i)
        residency.finish()
        ctx.release(residency.device_bytes, "activations")

    def compute(self, kind: str, layer: int, in_backward: bool, use):
        """One layer's forward (or recomputation) or backward step; a backward step may fill buckets."""
        spec = self.job.layers[layer]
        if self.q.zero == 3:
            yield from self.weights_for(use)
        if kind == FWD:
            yield self.ctx.compute("recompute" if in_backward else "fwd", spec.fwd_flops, index=layer,
                                   nbytes=spec.fwd_bytes, seconds=spec.fwd_time)
        else:
            yield self.ctx.compute("bwd", spec.bwd_flops, index=layer, nbytes=spec.bwd_bytes, seconds=spec.bwd_time)
            for bucket in self.job.ready.get(layer, ()):
                self.fill(bucket)
        if self.q.zero == 3:
            self.done_with(use)

    # -- gradients ------------------------------------------------------------------------------
    def fill(self, bucket) -> None:
        """A bucket is full: its tensor (the layers' gradient pieces, zero padded); its collective starts now,
        or after the backward pass without overlap."""
        if self.q.zero >= 2:
            self.ctx.allocate(bucket.padded * self.job.element_bytes, f"the gradient of bucket {bucket.index}", "buffers")
        self.filled[bucket.index] = self.job.bucket_tensor(self.ctx.rank, bucket)
        if self.q.overlap:
            self.reduce(bucket)

    def reduce(self, bucket) -> None:
        op = GRADIENT_OP[self.q.zero]
        self.queue(self._reduce(bucket, op), "grad", bucket.index, bucket.padded)

    def _reduce(self, bucket, op: str):
        job = self.job
        total = yield from collective(op, self.ctx, job.group, self.filled.pop(bucket.index), job.algorithm(op, bucket.padded),
                                      f"grad.b{bucket.index}", self.options)
        self.reduced[bucket.index] = total / len(job.group)  # the mean gradient (of this rank's shard)
        if self.q.zero >= 2:
            self.ctx.release(bucket.padded * job.element_bytes, "buffers")

    def queue(self, program, what: str, index: int, elements: int) -> None:
        """Run ``program`` (a collective of ``elements``: ``what`` is grad, param or gather, ``index`` its bucket or
        layer) on the communication stream, after everything queued there before it; ops ``WHAT:begin`` and
        ``WHAT:end`` mark when the stream starts and ends it."""
        self.last = self.ctx.stream(self._marked(program, what, index, elements * self.job.element_bytes), "comm")

    def _marked(self, program, what: str, index: int, nbytes: int):
        yield self.ctx.op(f"{what}:begin", 0.0, nbytes=nbytes, index=index)
        yield from program
        yield self.ctx.op(f"{what}:end", 0.0, nbytes=nbytes, index=index)

    # -- the optimizer --------------------------------------------------------------------------
    def optimizer_step(self):
        """Update this rank's parameters (stages 1-3: its shard), then (stages 1-2) gather the updated weights."""
        job, zero = self.job, self.q.zero
        elements = sum(b.padded for b in job.buckets) // (len(job.group) if zero else 1)
        yield self.ctx.compute("optimizer", 0.0, nbytes=elements * job.optimizer_bytes_per_element)
        for bucket in job.buckets:
            updated = job.updated(self.ctx.rank, bucket, self.reduced.pop(bucket.index), zero)
            if zero in (1, 2):
                self.queue(self._gather_weights(bucket, updated), "param", bucket.index, bucket.padded)
            else:
                self.weights[bucket.index] = updated

    def _gather_weights(self, bucket, shard):
        self.weights[bucket.index] = yield from collective(
            "all_gather", self.ctx, self.job.group, shard, self.job.algorithm("all_gather", bucket.padded),
            f"param.b{bucket.index}", self.options)

    # -- ZeRO-3: a layer's weights, gathered before each use --------------------------------------
    def weights_for(self, use):
        """Wait for the weights of this use's layer (gathering them now unless prefetched), and prefetch the next use's."""
        if use.layer not in self.held:
            self.gather(use)
        if self.q.prefetch and self.q.overlap and use.next is not None and use.next.layer not in self.held:
            self.gather(use.next)
        yield self.held[use.layer][0]

    def gather(self, use) -> None:
        job = self.job
        size = job.layer_padded[use.layer]
        self.ctx.allocate(size * job.element_bytes, f"the gathered weights of layer {use.layer}", "buffers")
        result: list = []
        self.queue(self._gather_layer(use, result), "gather", use.layer, size)
        self.held[use.layer] = (self.last, result)

    def _gather_layer(self, use, result: list):
        job = self.job
        full = yield from collective("all_gather", self.ctx, job.group, job.weight_shard(self.ctx.rank, use.layer),
                                     job.algorithm("all_gather", job.layer_padded[use.layer]), f"gather.l{use.layer}.{use.count}",
                                     self.options)
        result.append(full)

    def done_with(self, use) -> None:
        """After a layer's last consecutive use its gathered weights are freed (FSDP reshards after use)."""
        if use.next is not None and use.next.layer == use.layer:
            return
        _, result = self.held.pop(use.layer)
        if self.job.verifying:
            self.gathered.append((use.layer, result[0]))
        self.ctx.release(self.job.layer_padded[use.layer] * self.job.element_bytes, "buffers")

