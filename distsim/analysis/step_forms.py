"""Closed forms of one data-parallel training step, from the scenario's numbers only (docs/training.md).

Derived here from the papers, never from ``distsim.strategies`` or ``distsim.training``:

* **compute**: each op's roofline time, ``max(flops / (peak x efficiency), bytes / memory
  bandwidth)`` (Williams, Waterman & Patterson, CACM 2009), or the time the workload
  gives, times the rank's straggler factor; the forward pass, then per layer L..1 the
  recomputation the schedule reruns before its backward step (the exam's
  checkpoint_every_k: layers base+1..i from the last checkpoint at or below i), the
  checkpoint loads, and the backward step.
* **buckets** (PyTorch DDP, Li et al. VLDB 2020): the gradients, last layer first, cut
  every C = bucket / element bytes elements, so B = ceil(P / C) buckets of C (the last
  holds the rest); bucket b is full when the backward step of the layer holding its
  last element ends. ZeRO-3 (FSDP) reduces each layer's gradient. Sharded collectives
  pad a bucket up to a multiple of n.
* **the step, bulk-synchronously**: bucket b's collective starts when every rank has
  filled it and the collective before it has ended, and lasts its own closed form
  T_b (``analysis/collectives.py``): end_b = max(ready_b, end_{b-1}) + T_b. Without
  overlap every bucket waits for the end of the backward pass. Then the optimizer
  step (memory-bound: 2e + 2o bytes per parameter it updates), then ZeRO-1/2's
  all-gathers of the updated weights. Exact when the ranks are alike; with a
  straggler an upper bound (a collective whose other ranks came early can only end
  sooner), held against the lower bound of the straggler's own compute.
* **memory** (Rajbhandari et al., SC 2020): weights e, gradients e, optimizer o bytes
  per parameter, the optimizer state sharded from stage 1, the gradients from stage
  2, the weights at stage 3; activations as the schedule keeps them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

KORTHIKANTI = "Korthikanti et al. 2022 (activations kept for backward)"
LI = "Li et al. 2020, PyTorch Distributed (VLDB): buckets in reverse layer order, all-reduced as each fills"
RAJBHANDARI = "Rajbhandari et al. 2020, ZeRO (SC): 2 + 2 + 12 bytes per parameter, sharded by stage"
WILLIAMS = "Williams, Waterman & Patterson 2009, Roofline (CACM)"
NARAYANAN = "Narayanan et al. 2021 (SC): per-layer FLOPs, backward = 2 x forward"
DERIVED = "derived in docs/training.md"


@dataclass(frozen=True)
class LayerCost:
    """One layer as the closed forms see it (from the workload's formulas, never from a trace)."""

    params: int
    fwd_flops: float
    bwd_flops: float
    fwd_bytes: float = 0.0
    bwd_bytes: float = 0.0
    fwd_time: float | None = None
    bwd_time: float | None = None


@dataclass(frozen=True)
class Roofline:
    flops: float
    efficiency: float = 1.0
    memory_bandwidth: float | None = None

    def seconds(self, flops: float, nbytes: float, given: float | None = None) -> float:
        if given is not None:
            return given
        compute = flops / (self.flops * self.efficiency)
        if nbytes and self.memory_bandwidth:
            return max(compute, nbytes / self.memory_bandwidth)
        return compute


@dataclass(frozen=True)
class BucketForm:
    elements: int
    padded: int
    after: int  # the layer (from 0) whose backward step fills it


def bucket_forms(params: list[int], capacity: int, zero: int, n: int) -> list[BucketForm]:
    """The buckets: ceil(P / C) cuts of the reversed gradients (ZeRO-3: one per layer), padded for sharding."""
    multiple = n if zero else 1
    if zero == 3:
        return [BucketForm(p, _pad(p, n), i) for i, p in reversed(list(enumerate(params))) if p]
    reversed_ends = []  # cumulative elements, last layer first, and the layer each run ends in
    total = 0
    for i in range(len(params) - 1, -1, -1):
        total += params[i]
        reversed_ends.append((total, i))
    forms = []
    for b in range(math.ceil(total / capacity)):
        last = min((b + 1) * capacity, total)  # the bucket's last element is number last - 1 (reversed order)
        after = next(i for end, i in reversed_ends if end >= last)
        size = last - b * capacity
        forms.append(BucketForm(size, _pad(size, multiple), after))
    return forms


def _pad(elements: int, multiple: int) -> int:
    return -(-elements // multiple) * multiple


def _free(nbytes: int) -> float:
    return 0.0


@dataclass(frozen=True)
class Remat:
    """What the schedule reruns and keeps: ``kind``, its parameter k, and the checkpoint tier's store and load times."""

    kind: str = "store_all"
    k: int | None = None
    store_s: Callable[[int], float] = _free
    load_s: Callable[[int], float] = _free

    @property
    def interval(self) -> int:
        """Every how many layers a checkpoint is stored (store_all: every layer)."""
        return self.k if self.kind == "checkpoint_every_k" else 1

    @property
    def timed(self) -> bool:
        """Schedules whose op order the closed forms know (others get bounds)."""
        return self.kind in ("store_all", "checkpoint_every_k")

    def recomputed(self, i: int) -> range:
        """Layers (from 1) rerun just before the backward step of layer i (from 1): those above the last
        checkpoint at or below i (none when every activation is stored)."""
        base = self.interval * (i // self.interval)
        return range(base + 1, i + 1)

    def loaded(self, i: int) -> int:
        """The activation loaded before layer i's backward: the last checkpoint at or below i."""
        return self.interval * (i // self.interval)

    def reruns(self, layers: int) -> int:
        return sum(len(self.recomputed(i)) for i in range(1, layers + 1))


@dataclass
class Timeline:
    """One rank's compute, as the closed forms time it."""

    forward: float
    bwd_end: list[float]  # by layer (from 0): when its backward step ends
    compute: float  # every compute op, optimizer excluded
    recompute: float


def rank_timeline(layers: list[LayerCost], sizes: list[int], gpu: Roofline, remat: Remat,
                  slowdown: float = 1.0) -> Timeline:
    """The forward pass (each checkpoint stored after the layer that makes it), then for i = L..1 the checkpoint's
    load, the recomputation before bwd i and bwd i; compute ops slowed by ``slowdown``, loads and stores not."""
    fwd = [slowdown * gpu.seconds(l.fwd_flops, l.fwd_bytes, l.fwd_time) for l in layers]
    bwd = [slowdown * gpu.seconds(l.bwd_flops, l.bwd_bytes, l.bwd_time) for l in layers]
    k = remat.interval
    t = remat.store_s(sizes[0])  # a_0 is a checkpoint
    for i in range(1, len(layers) + 1):
        t += fwd[i - 1]
        if i % k == 0:
            t += remat.store_s(sizes[i])
    forward = t
    ends = [0.0] * len(layers)
    recompute = 0.0
    for i in range(len(layers), 0, -1):
        t += remat.load_s(sizes[remat.loaded(i)])
        for j in remat.recomputed(i):
            t += fwd[j - 1]
            recompute += fwd[j - 1]
        t += bwd[i - 1]
        ends[i - 1] = t
    return Timeline(forward, ends, t, recompute)


def _sum(values) -> float:
    total = 0.0
    for v in values:  # in order, as the simulation adds them
        total += v
    return total


@dataclass
class StepForm:
    step: float
    gradient_comm_end: float  # when the last bucket's collective ends
    backward_end: float  # when the last rank's backward pass ends
    exposed: float  # communication not hidden behind compute (the slowest rank's)
    comm: float  # every collective's closed-form time, summed
    notes: list[str] = field(default_factory=list)


def bulk_synchronous(timelines: list[Timeline], buckets: list[BucketForm], grad_s: list[float], gather_s: list[float],
                     optimizer_s: list[float], overlap: bool) -> StepForm:
    """The step when each collective starts once every rank is ready and the previous one has ended."""
    backward_end = max(t.compute for t in timelines)
    end = 0.0
    for bucket, seconds in zip(buckets, grad_s):
        ready = max(t.bwd_end[bucket.after] for t in timelines) if overlap else backward_end
        end = max(ready, end) + seconds
    comm_end = max(end, backward_end)
    optimized = max(comm_end + opt for opt in optimizer_s)
    step = optimized
    for seconds in gather_s:
        step += seconds
    slowest = max(range(len(timelines)), key=lambda r: timelines[r].compute + optimizer_s[r])
    exposed = step - timelines[slowest].compute - optimizer_s[slowest]
    return StepForm(step, comm_end, backward_end, exposed, _sum(grad_s) + _sum(gather_s))


def checkpoint_every_k_peak(sizes: list[int], k: int) -> int:
    """Peak activation bytes of the exam's schedule (a_0 .. a_L given): the forward pass holds the checkpoints
    below a_i, a_{i-1} and a_i; layer i's backward holds the checkpoints at or below i and the two newest
    recomputed activations."""
    L = len(sizes) - 1
    stored = [i for i in range(L + 1) if i % k == 0]
    peak = 0
    for i in range(1, L + 1):  # forward: fwd i with a_{i-1} at hand (its own buffer unless a checkpoint)
        kept = sum(sizes[j] for j in stored if j < i)
        peak = max(peak, kept + (sizes[i - 1] if (i - 1) % k else 0) + sizes[i])
    for i in range(L, 0, -1):
        base = k * (i // k)
        kept = sum(sizes[j] for j in stored if j <= i)
        for j in range(base + 1, i + 1):  # recompute: a_{j-1} (if recomputed) and a_j at hand
            peak = max(peak, kept + (sizes[j - 1] if j - 1 > base else 0) + sizes[j])
    return peak
