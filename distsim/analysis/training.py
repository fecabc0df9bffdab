"""A training step's trace against its closed forms: where the time went, and whether it went where it should.

From the trace alone (``measure``): per rank, its compute (ops of its compute stream),
its communication (from the start to the end of each collective on its communication
stream, marked by ``comm_begin`` / ``comm_end`` ops), their overlap, the exposed
communication and any idle time; the step time; op counts, FLOPs, messages and
bytes; memory by category (``trace.memory``). The closed forms are
``analysis/step_forms.py`` and, per collective, ``analysis/collectives.py``.

Checks: counts exact; compute time exact (without jitter); no idle time (a rank
always computes or communicates, so step = compute + exposed communication, and
without overlap step = compute + communication exactly); step >= max(compute,
communication); the step and its exposed communication as the bulk-synchronous
model says (exact when the ranks are alike, bounds with a straggler or ZeRO-3);
memory by category as ZeRO says.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from distsim.analysis.closed_forms import Formula, Inputs
from distsim.analysis.collectives import CollectiveCall, pattern
from distsim.analysis.reconcile import Check, Reconciliation
from distsim.analysis.step_forms import (
    DERIVED, KORTHIKANTI, LI, NARAYANAN, RAJBHANDARI, WILLIAMS, BucketForm, LayerCost, Remat, Roofline, StepForm,
    bucket_forms, bulk_synchronous, checkpoint_every_k_peak, rank_timeline,
)
from distsim.trace import Trace
from distsim.trace.memory import CATEGORIES, peaks

TOLERANCE = 1e-9  # relative: the simulation adds op times one by one
GRADIENT_OP = {0: "all_reduce", 1: "reduce_scatter", 2: "reduce_scatter", 3: "reduce_scatter"}
COMPUTE_KINDS = ("fwd", "bwd", "recompute", "optimizer")
BEGIN, END = "comm_begin", "comm_end"


@dataclass(frozen=True)
class TrainingInputs:
    """What the closed forms may know: the scenario's numbers, the strategy's, the platform — never the trace."""

    workers: int
    layers: tuple[LayerCost, ...]
    activation_sizes: tuple[int, ...]  # a_0 .. a_L
    element_bytes: int
    state_bytes: tuple[int, int, int]  # weights, gradients, optimizer: bytes per parameter
    zero: int
    overlap: bool
    capacity: int  # bucket elements
    remat: Remat
    gpu: Roofline
    slowdown: tuple[float, ...]  # per rank
    jitter: bool
    comm: Inputs  # the network the collectives' closed forms time messages on
    algorithms: dict  # (op, elements) -> the algorithm the run used (auto resolved as the run resolved it)
    nodes: tuple = ()
    prefetch: bool = True


@dataclass(frozen=True)
class Call:
    op: str
    elements: int
    phase: str


# -- what the trace shows ----------------------------------------------------------------------------
def measure(trace: Trace) -> dict:
    """Per rank (lists indexed by rank) and in total: times, counts, FLOPs, messages and memory."""
    o = trace.ops.columns()
    kinds = np.array(trace.op_kinds or [""], dtype=object)[o["kind"]] if len(trace.ops) else np.array([], dtype=object)
    ranks = len(trace.ranks)
    per = {key: [0.0] * ranks for key in ("compute_s", "comm_s", "overlap_s", "idle_s", "end_s")}
    order = np.argsort(o["rank"], kind="stable")
    bounds = np.searchsorted(o["rank"][order], np.arange(ranks + 1))
    for r in range(ranks):
        rows = order[bounds[r]:bounds[r + 1]]
        _rank_times(per, r, kinds[rows], o["t_start"][rows], o["t_end"][rows])
    model = (kinds == "fwd") | (kinds == "bwd")
    m = trace.messages.columns()
    measured = {
        "step_s": trace.makespan,
        **per,
        "exposed_s": [c - v for c, v in zip(per["comm_s"], per["overlap_s"])],
        "seconds_by_kind": {kind: _seconds_per_rank(o, kinds == kind, ranks) for kind in COMPUTE_KINDS},
        "fwd_ops": _per_rank(o["rank"], kinds == "fwd", ranks),
        "bwd_ops": _per_rank(o["rank"], kinds == "bwd", ranks),
        "recompute_ops": _per_rank(o["rank"], kinds == "recompute", ranks),
        "model_flops": float(o["flops"][model].sum()),
        "recompute_flops": float(o["flops"][kinds == "recompute"].sum()),
        "messages": int(len(m["nbytes"])),
        "total_bytes": int(m["nbytes"].sum()),
        "calls": _calls(trace),
        "memory": _memory(trace, ranks),
    }
    return measured


def _rank_times(per: dict, r: int, kinds, start, end) -> None:
    compute = np.isin(kinds, COMPUTE_KINDS) & (end > start)
    busy = np.stack([start[compute], end[compute]], axis=1) if compute.any() else np.zeros((0, 2))
    calls = np.stack([start[kinds == BEGIN], start[kinds == END]], axis=1) if (kinds == BEGIN).any() else np.zeros((0, 2))
    per["compute_s"][r] = float(np.sum(busy[:, 1] - busy[:, 0]))
    per["comm_s"][r] = _union(calls)
    per["overlap_s"][r] = _intersection(busy, calls)
    per["end_s"][r] = float(end.max()) if len(end) else 0.0
    per["idle_s"][r] = per["end_s"][r] - (per["compute_s"][r] + per["comm_s"][r] - per["overlap_s"][r])


def _union(spans: np.ndarray) -> float:
    """Length of the union of intervals (rows: start, end)."""
    total, reach = 0.0, -np.inf
    for a, b in spans[np.argsort(spans[:, 0], kind="stable")] if len(spans) else ():
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return float(total)


def _intersection(a: np.ndarray, b: np.ndarray) -> float:
    """Length of (union of a) ∩ (union of b), each a set of disjoint intervals."""
    if not len(a) or not len(b):
        return 0.0
    points = np.concatenate([a[:, 0], a[:, 1], b[:, 0], b[:, 1]])
    steps = np.concatenate([np.ones(len(a)), -np.ones(len(a)), 2 * np.ones(len(b)), -2 * np.ones(len(b))])
    order = np.lexsort((steps, points))  # at a tie, ends before starts: touching intervals do not overlap
    points, level = points[order], np.cumsum(steps[order])
    both = level[:-1] == 3
    return float(np.sum((points[1:] - points[:-1])[both]))


def _per_rank(rank_column, mask, ranks: int) -> list[int]:
    return np.bincount(rank_column[mask], minlength=ranks).astype(int).tolist()


def _seconds_per_rank(o: dict, mask, ranks: int) -> list[float]:
    return np.bincount(o["rank"][mask], weights=(o["t_end"] - o["t_start"])[mask], minlength=ranks).tolist()


def _calls(trace: Trace) -> dict[str, dict]:
    """Per collective call (the phase's prefix, ``grad.b3``): messages and bytes."""
    m = trace.messages.columns()
    if not len(m["nbytes"]):
        return {}
    prefixes = np.array([name.split(":")[0] for name in trace.phases], dtype=object)
    calls = prefixes[m["phase"]]
    names, inverse = np.unique(calls, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(names))
    nbytes = np.bincount(inverse, weights=m["nbytes"], minlength=len(names))
    return {str(n): {"messages": int(c), "bytes": int(b)} for n, c, b in zip(names, counts, nbytes)}


def _memory(trace: Trace, ranks: int) -> dict:
    """Per rank: each category's largest bytes, the peak total and what it was made of at that moment."""
    c = trace.memory.columns()
    most = np.zeros((ranks, len(CATEGORIES)), dtype=np.int64)
    if len(c["nbytes"]):
        np.maximum.at(most, (c["rank"], c["category"]), c["nbytes"])
    found = peaks(trace.memory, ranks)
    return {
        "max_by_category": [dict(zip(CATEGORIES, row.tolist())) for row in most],
        "peak_bytes": [found[r].total if r in found else 0 for r in range(ranks)],
        "peak_by_category": [found[r].by_category if r in found else dict.fromkeys(CATEGORIES, 0) for r in range(ranks)],
    }


# -- what the closed forms say -----------------------------------------------------------------------
@dataclass
class Expected:
    buckets: list[BucketForm]
    calls: list[Call]
    seconds: dict  # (op, elements) -> closed-form time of one call
    patterns: dict  # (op, elements) -> (messages, bytes, source)
    timelines: list
    step: StepForm | None
    optimizer_s: list[float]
    notes: list[str] = field(default_factory=list)


def expected(x: TrainingInputs) -> Expected:
    n, L = x.workers, len(x.layers)
    buckets = bucket_forms([l.params for l in x.layers], x.capacity, x.zero, n)
    calls = [Call(GRADIENT_OP[x.zero], b.padded, f"grad.b{i}") for i, b in enumerate(buckets)]
    if x.zero in (1, 2):
        calls += [Call("all_gather", b.padded, f"param.b{i}") for i, b in enumerate(buckets)]
    if x.zero == 3:
        padded = [-(-l.params // n) * n for l in x.layers]
        calls += [Call("all_gather", padded[layer], f"gather.l{layer}.{count}") for layer, count in gathers(L, x.remat)]
    seconds, patterns = {}, {}
    for call in calls:
        key = (call.op, call.elements)
        if key not in seconds:
            group = tuple(range(n))
            pat = pattern(CollectiveCall(call.op, x.algorithms[key], group, call.elements, x.element_bytes,
                                         nodes=x.nodes or None), x.comm)
            seconds[key] = pat.seconds
            patterns[key] = (pat.messages, sum(size * count for size, count in pat.sizes.items()), pat.source)
    timelines = [rank_timeline(list(x.layers), list(x.activation_sizes), x.gpu, x.remat, s) for s in x.slowdown]
    elements = sum(b.padded for b in buckets) // (n if x.zero else 1)
    opt = [s * x.gpu.seconds(0.0, elements * optimizer_bytes(x)) for s in x.slowdown]
    step = None
    if x.zero < 3 and x.remat.timed and not x.jitter:
        grad = [seconds[(GRADIENT_OP[x.zero], b.padded)] for b in buckets]
        gather = [seconds[("all_gather", b.padded)] for b in buckets] if x.zero in (1, 2) else []
        step = bulk_synchronous(timelines, buckets, grad, gather, opt, x.overlap)
    return Expected(buckets, calls, seconds, patterns, timelines, step, opt)


def optimizer_bytes(x: TrainingInputs) -> int:
    """Bytes the optimizer reads and writes per parameter it updates: the gradient read, the optimizer state
    (master weights, moments) read and written, the 16-bit weights written: 2e + 2o (28 for bf16 Adam)."""
    return 2 * x.state_bytes[1] + 2 * x.state_bytes[2]


def weight_uses(layers: int, remat: Remat) -> list[int]:
    """The layer (from 0) of every compute op in order: the forward pass, then per layer i = L..1 its recomputation
    and its backward step."""
    uses = list(range(layers))
    for i in range(layers, 0, -1):
        uses += [j - 1 for j in remat.recomputed(i)] + [i - 1]
    return uses


def gathers(layers: int, remat: Remat) -> list[tuple[int, int]]:
    """ZeRO-3's all-gathers: one before each run of compute ops on the same layer, as (layer, its use count)."""
    found, count, previous = [], Counter(), None
    for layer in weight_uses(layers, remat):
        if layer != previous:
            found.append((layer, count[layer]))
        count[layer] += 1
        previous = layer
    return found


# -- the reconciliation --------------------------------------------------------------------------------
def reconcile_training(trace: Trace, x: TrainingInputs) -> Reconciliation:
    sim = measure(trace)
    exp = expected(x)
    n, L = x.workers, len(x.layers)
    checks: list[Check] = []
    notes: list[str] = list(exp.notes)
    reruns = x.remat.reruns(L) if x.remat.timed else None
    checks.append(_all_equal("fwd ops per rank", Formula(L, "L (one forward per layer)", NARAYANAN), sim["fwd_ops"]))
    checks.append(_all_equal("bwd ops per rank", Formula(L, "L (one backward step per layer)", NARAYANAN), sim["bwd_ops"]))
    if reruns is not None:
        checks.append(_all_equal("recompute ops per rank", Formula(reruns, "sum_i (i mod k) (the exam's scheme)"
                                 if x.remat.kind != "store_all" else "0 (nothing recomputed)", DERIVED), sim["recompute_ops"]))
    model_flops = n * sum(l.fwd_flops + l.bwd_flops for l in x.layers)
    checks.append(_close("model FLOPs", Formula(model_flops, "n x sum over layers of (forward + backward FLOPs)", NARAYANAN),
                         sim["model_flops"]))
    messages = sum(exp.patterns[(c.op, c.elements)][0] for c in exp.calls)
    total = sum(exp.patterns[(c.op, c.elements)][1] for c in exp.calls)
    checks.append(_exact("messages", Formula(messages, f"sum over {len(exp.calls)} collectives of each one's messages",
                                             "analysis/collectives.py"), sim["messages"]))
    checks.append(_exact("total bytes", Formula(total, "sum over the collectives of each one's bytes", "analysis/collectives.py"),
                         sim["total_bytes"]))
    checks += _time_checks(sim, exp, x, notes)
    checks += _memory_checks(sim, exp, x, notes)
    step = sim["step_s"]
    peak = x.gpu.flops
    sim["mfu"] = model_flops / (step * peak * n) if step > 0 else 0.0
    sim["model_flops_expected"] = model_flops
    expected_dict = {"buckets": len(exp.buckets), "collectives": len(exp.calls), "messages": messages, "total_bytes": total,
                     "model_flops": model_flops}
    if exp.step is not None:
        expected_dict.update(step_s=exp.step.step, exposed_s=exp.step.exposed, communication_s=exp.step.comm)
    return Reconciliation(checks, notes, sim, expected_dict)


def _time_checks(sim: dict, exp: Expected, x: TrainingInputs, notes: list[str]) -> list[Check]:
    checks = []
    step = sim["step_s"]
    idle = max(sim["idle_s"])
    checks.append(_at_most_tol("idle time (every rank computes or communicates)", Formula(0.0, "0: step = |compute ∪ communication|",
                               DERIVED), idle, step))
    worst = max(max(c, m) - e for c, m, e in zip(sim["compute_s"], sim["comm_s"], sim["end_s"]))
    checks.append(_at_most_tol("step >= max(compute, communication)", Formula(0.0, "max(compute, communication) - step <= 0",
                               DERIVED), worst, step))
    if not x.overlap:
        gap = max(abs(e - c - m) for c, m, e in zip(sim["compute_s"], sim["comm_s"], sim["end_s"]))
        checks.append(_at_most_tol("no overlap: step = compute + communication", Formula(0.0, "|step - compute - communication| "
                                   "per rank", DERIVED), gap, step))
    if not x.jitter:
        form = [t.compute + o for t, o in zip(exp.timelines, exp.optimizer_s)]
        diff = max(abs(s - f) for s, f in zip(sim["compute_s"], form))
        checks.append(_at_most_tol("compute time (every rank)", Formula(0.0, "roofline per op x straggler factor, summed",
                                   WILLIAMS), diff, max(form)))
    else:
        notes.append("jitter: compute times are random draws, so the closed forms check counts and bounds only")
    if exp.step is not None:
        alike = len(set(x.slowdown)) == 1
        form = Formula(exp.step.step, "forward + backward + exposed bucket communication + optimizer"
                       + (" + weight all-gathers" if x.zero else ""), f"{LI}; {DERIVED}")
        if alike:
            checks.append(_close("step time", form, step))
            exposed = Formula(exp.step.exposed, "last bucket's collective + what the backward pass could not hide"
                              + (" + weight all-gathers" if x.zero else "") if x.overlap else "every collective", DERIVED)
            checks.append(_close("exposed communication", exposed, max(sim["exposed_s"])))
        else:
            low = max(t.compute + o for t, o in zip(exp.timelines, exp.optimizer_s))
            checks.append(_between("step time (straggler)", low, form, step))
            notes.append(f"a straggler: the step is at most the bulk-synchronous {exp.step.step:.6g} s (a collective whose "
                         f"other ranks came early ends sooner) and at least the slowest rank's compute {low:.6g} s")
    elif x.zero == 3:
        first = exp.seconds[("all_gather", exp.calls[len(exp.buckets)].elements)] if len(exp.calls) > len(exp.buckets) else 0.0
        last = exp.seconds[(GRADIENT_OP[3], exp.buckets[-1].padded)] if exp.buckets else 0.0
        low = max(t.compute + o for t, o in zip(exp.timelines, exp.optimizer_s)) + first + last
        checks.append(_between("step time (ZeRO-3, lower bound)", low, None, step))
        notes.append("ZeRO-3: the first layer's gather precedes all compute and the last reduce-scatter follows it; "
                     "the gathers between are hidden or not as prefetching allows, so the step is held to a lower bound")
    return checks


def _memory_checks(sim: dict, exp: Expected, x: TrainingInputs, notes: list[str]) -> list[Check]:
    n = x.workers
    full = sum(b.padded for b in exp.buckets)
    shard = full // n
    w, g, o = x.state_bytes
    forms = {
        "weights": Formula((shard if x.zero >= 3 else full) * w, "e x P" + (" / n" if x.zero >= 3 else ""), RAJBHANDARI),
        "gradients": Formula((shard if x.zero >= 2 else full) * g, "e x P" + (" / n" if x.zero >= 2 else ""), RAJBHANDARI),
        "optimizer": Formula((shard if x.zero >= 1 else full) * o, "o x P" + (" / n" if x.zero >= 1 else ""), RAJBHANDARI),
    }
    if x.remat.kind in ("store_all", "checkpoint_every_k"):
        peak = checkpoint_every_k_peak(list(x.activation_sizes), x.remat.interval)
        forms["activations"] = Formula(peak, "sum of a_0..a_L" if x.remat.kind == "store_all" else
                                       "max over the schedule of the checkpoints kept and the newest activations at hand",
                                       f"{KORTHIKANTI}; {DERIVED}")
    else:
        notes.append(f"activations: no closed form for the peak of {x.remat.kind} on layers of unequal sizes; reported only")
    checks = []
    for category, formula in forms.items():
        values = [row[category] for row in sim["memory"]["max_by_category"]]
        checks.append(_all_equal(f"peak {category} bytes per rank", formula, values))
    return checks


def _exact(name: str, formula: Formula, simulated) -> Check:
    ok = formula.value == simulated
    return Check(name, formula.value, simulated, ok, "ok" if ok else "FAIL", formula.text, formula.source)


def _all_equal(name: str, formula: Formula, values: list) -> Check:
    """Every rank's value equals the formula; the simulated side shows the one value, or the ones that differ."""
    wrong = sorted({v for v in values if v != formula.value})
    shown = values[0] if not wrong and values else (wrong[0] if wrong else None)
    return Check(name, formula.value, shown, not wrong, "ok" if not wrong else "FAIL", formula.text, formula.source)


def _close(name: str, formula: Formula, simulated: float) -> Check:
    ok = abs(simulated - formula.value) <= TOLERANCE * max(abs(formula.value), 1e-300)
    return Check(name, formula.value, simulated, ok, "ok" if ok else "FAIL", formula.text, formula.source)


def _at_most_tol(name: str, formula: Formula, simulated: float, scale: float) -> Check:
    ok = simulated <= formula.value + TOLERANCE * max(scale, 1e-300)
    return Check(name, formula.value, max(simulated, 0.0) if ok else simulated, ok, "ok" if ok else "FAIL",
                 formula.text, formula.source)


def _between(name: str, low: float, high: Formula | None, simulated: float) -> Check:
    """low <= simulated <= high (within rounding): a time held between two bounds (status 'bound')."""
    slack = TOLERANCE * max(simulated, 1e-300)
    ok = simulated >= low - slack and (high is None or simulated <= high.value + slack)
    text = f">= {low:.9g} s" + (f" and <= {high.text}" if high is not None else "")
    value = high.value if high is not None else low
    return Check(name, value, simulated, ok, "bound" if ok else "FAIL", text, high.source if high is not None else DERIVED)
