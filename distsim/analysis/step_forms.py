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
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Op:
    """One op of a rank's compute stream: ``fwd``, ``recompute`` or ``bwd`` of ``layer`` (from 0), or a checkpoint's
    ``load`` / ``store`` (layer -1: no weights used, not slowed by a straggler)."""

    kind: str
    layer: int
    seconds: float  # on a rank without slowdown


def step_ops(layers: list[LayerCost], sizes: list[int], gpu: Roofline, remat: Remat) -> list[Op]:
    """The compute stream's ops: the forward pass (each checkpoint stored after the layer that makes it), then for
    i = L..1 the checkpoint's load, the recomputation before bwd i, and bwd i (loads and stores of no time left out)."""
    fwd = [gpu.seconds(l.fwd_flops, l.fwd_bytes, l.fwd_time) for l in layers]
    bwd = [gpu.seconds(l.bwd_flops, l.bwd_bytes, l.bwd_time) for l in layers]
    k = remat.interval
    ops = [Op("store", -1, remat.store_s(sizes[0]))]
    for i in range(1, len(layers) + 1):
        ops.append(Op("fwd", i - 1, fwd[i - 1]))
        if i % k == 0:
            ops.append(Op("store", -1, remat.store_s(sizes[i])))
    for i in range(len(layers), 0, -1):
        ops.append(Op("load", -1, remat.load_s(sizes[remat.loaded(i)])))
        ops += [Op("recompute", j - 1, fwd[j - 1]) for j in remat.recomputed(i)]
        ops.append(Op("bwd", i - 1, bwd[i - 1]))
    return [op for op in ops if op.layer >= 0 or op.seconds > 0]


@dataclass
class StepForm:
    step: float
    backward_end: float  # when the last rank's backward pass ends
    exposed: float  # the slowest rank's communication not hidden behind its compute
    compute: list[float]  # per rank, the optimizer included
    comm: float  # every collective's closed-form time, summed


@dataclass(frozen=True)
class Collectives:
    """The closed-form time of each collective the step runs."""

    gradient: list[float]  # per bucket: its all-reduce or reduce-scatter
    weights: list[float]  # stages 1-2, per bucket: the all-gather of the updated weights
    layer_gather: list[float]  # stage 3, per layer: the all-gather of its weights


SLOWED = ("fwd", "recompute", "bwd")


def two_streams(ops: list[Op], slowdown: list[float], buckets: list[BucketForm], times: Collectives,
                optimizer: list[float], zero: int, overlap: bool, prefetch: bool = True) -> StepForm:
    """Every rank runs ``ops`` on its compute stream and its collectives, in issue order, on its communication
    stream; a collective starts when every rank has issued it and the one before it has ended (bulk-synchronous).

    ZeRO-3: before a run of ops on one layer its weights are gathered (issued then, unless prefetched while the
    run before computed, with overlap and ``prefetch``), and freed after the run. A bucket's collective is issued when the
    backward step of the layer that fills it ends (with overlap), else after the backward pass. Then the
    optimizer (each rank once its communication stream is done), then (stages 1-2) the all-gathers of the
    updated weights."""
    t = [0.0] * len(slowdown)
    comm = [0.0]  # when the communication stream is free

    def issue(seconds: float, when: float) -> float:
        comm[0] = max(when, comm[0]) + seconds
        return comm[0]

    ready: dict[int, list[int]] = {}
    for b, bucket in enumerate(buckets):
        ready.setdefault(bucket.after, []).append(b)
    uses = [k for k, op in enumerate(ops) if op.layer >= 0]
    following = {k: (uses[u + 1] if u + 1 < len(uses) else None) for u, k in enumerate(uses)}
    held: dict[int, float] = {}  # stage 3: layer -> when its gathered weights are there
    pending = []
    for k, op in enumerate(ops):
        if zero == 3 and op.layer >= 0:
            if op.layer not in held:
                held[op.layer] = issue(times.layer_gather[op.layer], max(t))
            after = following[k]
            if overlap and prefetch and after is not None and ops[after].layer not in held:
                held[ops[after].layer] = issue(times.layer_gather[ops[after].layer], max(t))
            t = [max(clock, held[op.layer]) for clock in t]
        t = [clock + (s * op.seconds if op.kind in SLOWED else op.seconds) for clock, s in zip(t, slowdown)]
        if op.kind == "bwd":
            for b in ready.get(op.layer, ()):
                if overlap:
                    issue(times.gradient[b], max(t))
                else:
                    pending.append(b)
        if zero == 3 and op.layer >= 0 and (following[k] is None or ops[following[k]].layer != op.layer):
            del held[op.layer]
    backward_end = max(t)
    for b in pending:
        issue(times.gradient[b], backward_end)
    step = max(max(clock, comm[0]) + opt for clock, opt in zip(t, optimizer))
    if zero in (1, 2):
        for seconds in times.weights:
            step = issue(seconds, step)
    compute = [compute_seconds(ops, s) + opt for s, opt in zip(slowdown, optimizer)]
    slowest = max(range(len(compute)), key=lambda r: compute[r])
    total = _sum(times.gradient) + _sum(times.weights) + (_sum(times.layer_gather) if zero == 3 else 0.0)
    return StepForm(step, backward_end, step - compute[slowest], compute, total)


def compute_seconds(ops: list[Op], slowdown: float = 1.0, kinds: tuple = ("fwd", "recompute", "bwd", "load", "store")) -> float:
    """A rank's compute stream busy time over ``kinds``, its compute ops slowed by ``slowdown``."""
    return _sum((slowdown if op.kind in SLOWED else 1.0) * op.seconds for op in ops if op.kind in kinds)


def _sum(values) -> float:
    total = 0.0
    for v in values:  # in order, as the simulation adds them
        total += v
    return total


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
