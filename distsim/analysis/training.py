"""A training step's trace against its closed forms: where the time went, and whether it went where it should.

From the trace alone (``measure``): per rank, its compute (ops of its compute stream),
its communication (from the start to the end of each collective on its communication
stream, marked by ``grad:begin`` / ``grad:end`` ops and the like), their overlap, the exposed
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
from distsim.analysis.links import message_delays
from distsim.analysis.reconcile import Check, Reconciliation
from distsim.analysis.step_forms import (
    DERIVED, KORTHIKANTI, LI, NARAYANAN, RAJBHANDARI, WILLIAMS, BucketForm, Collectives, LayerCost, Op, Remat, Roofline,
    StepForm, bucket_forms, checkpoint_every_k_peak, compute_seconds, step_ops, two_streams,
)
from distsim.trace import Trace
from distsim.trace.memory import CATEGORIES, peaks

TOLERANCE = 1e-9  # relative: the simulation adds op times one by one
GRADIENT_OP = {0: "all_reduce", 1: "reduce_scatter", 2: "reduce_scatter", 3: "reduce_scatter"}
COMPUTE_KINDS = ("fwd", "bwd", "recompute", "optimizer")
BEGIN, END = ":begin", ":end"  # op kinds grad:begin, param:end, ...: a collective's span on the communication stream


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
    marks = _marks(trace, o["kind"])
    order = np.argsort(o["rank"], kind="stable")
    bounds = np.searchsorted(o["rank"][order], np.arange(ranks + 1))
    for r in range(ranks):
        rows = order[bounds[r]:bounds[r + 1]]
        _rank_times(per, r, kinds[rows], marks[rows], o["t_start"][rows], o["t_end"][rows])
    model = (kinds == "fwd") | (kinds == "bwd")
    m = trace.messages.columns()
    measured = {
        "step_s": trace.makespan,
        "makespan_s": trace.makespan,  # the name every kind's sweep row reads
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


def _marks(trace: Trace, codes: np.ndarray) -> np.ndarray:
    """Per op: +1 where a collective begins on the communication stream, -1 where it ends, 0 otherwise."""
    table = np.array([1 if name.endswith(BEGIN) else -1 if name.endswith(END) else 0 for name in trace.op_kinds] or [0])
    return table[codes] if len(codes) else np.zeros(0, dtype=int)


def _rank_times(per: dict, r: int, kinds, marks, start, end) -> None:
    compute = np.isin(kinds, COMPUTE_KINDS) & (end > start)
    busy = np.stack([start[compute], end[compute]], axis=1) if compute.any() else np.zeros((0, 2))
    calls = np.stack([start[marks == 1], start[marks == -1]], axis=1) if (marks == 1).any() else np.zeros((0, 2))
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
    patterns: dict  # (op, elements) -> (messages, bytes)
    ops: list[Op]
    optimizer_s: list[float]
    step: StepForm | None
    notes: list[str] = field(default_factory=list)


def step_calls(params: list[int], capacity: int, zero: int, n: int, remat: Remat) -> tuple[list[BucketForm], list[Call]]:
    """The step's buckets and its collectives in issue order (gradients, then ZeRO's weight all-gathers), from
    the layers' parameter counts, the bucket capacity in elements, the stage and the rank count."""
    buckets = bucket_forms(params, capacity, zero, n)
    padded = [-(-p // n) * n for p in params]
    calls = [Call(GRADIENT_OP[zero], b.padded, f"grad.b{i}") for i, b in enumerate(buckets)]
    if zero in (1, 2):
        calls += [Call("all_gather", b.padded, f"param.b{i}") for i, b in enumerate(buckets)]
    if zero == 3:
        calls += [Call("all_gather", padded[layer], f"gather.l{layer}.{count}") for layer, count in gathers(len(params), remat)]
    return buckets, calls


def expected(x: TrainingInputs) -> Expected:
    n = x.workers
    buckets, calls = step_calls([l.params for l in x.layers], x.capacity, x.zero, n, x.remat)
    padded = [-(-l.params // n) * n for l in x.layers]
    seconds, patterns = {}, {}
    for call in calls:
        key = (call.op, call.elements)
        if key not in seconds:
            pat = pattern(CollectiveCall(call.op, x.algorithms[key], tuple(range(n)), call.elements, x.element_bytes,
                                         nodes=x.nodes or None), x.comm)
            seconds[key] = pat.seconds
            patterns[key] = (pat.messages, sum(size * count for size, count in pat.sizes.items()))
    ops = step_ops(list(x.layers), list(x.activation_sizes), x.gpu, x.remat) if x.remat.timed else []
    elements = sum(b.padded for b in buckets) // (n if x.zero else 1)
    optimizer = [s * x.gpu.seconds(0.0, elements * optimizer_bytes(x)) for s in x.slowdown]
    step = None
    if x.remat.timed and not x.jitter:
        times = Collectives(
            gradient=[seconds[(GRADIENT_OP[x.zero], b.padded)] for b in buckets],
            weights=[seconds[("all_gather", b.padded)] for b in buckets] if x.zero in (1, 2) else [],
            layer_gather=[seconds.get(("all_gather", p), 0.0) for p in padded] if x.zero == 3 else [],
        )
        step = two_streams(ops, list(x.slowdown), buckets, times, optimizer, x.zero, x.overlap, x.prefetch)
    return Expected(buckets, calls, seconds, patterns, ops, optimizer, step)


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
    checks += _time_checks(trace, sim, exp, x, notes)
    checks += _memory_checks(sim, exp, x, notes)
    step = sim["step_s"]
    peak = x.gpu.flops
    sim["mfu"] = model_flops / (step * peak * n) if step > 0 else 0.0
    sim["model_flops_expected"] = model_flops
    expected_dict = {"buckets": len(exp.buckets), "collectives": len(exp.calls), "messages": messages, "total_bytes": total,
                     "model_flops": model_flops}
    if exp.step is not None:
        expected_dict.update(step_s=exp.step.step, makespan_s=exp.step.step, exposed_s=exp.step.exposed,
                             communication_s=exp.step.comm)
    return Reconciliation(checks, notes, sim, expected_dict)


def _time_checks(trace: Trace, sim: dict, exp: Expected, x: TrainingInputs, notes: list[str]) -> list[Check]:
    checks = []
    step = sim["step_s"]
    ends = sim["end_s"]
    idle = max(sim["idle_s"])
    checks.append(_at_most_tol("idle time (every rank computes or communicates)",
                               Formula(0.0, "step - |compute ∪ communication|, the largest of any rank", DERIVED), idle, step))
    busiest = max(max(c, m) for c, m in zip(sim["compute_s"], sim["comm_s"]))
    checks.append(_at_most_tol("max(compute, communication) <= step", Formula(step, "each rank's busiest stream fits in the "
                               "step", DERIVED), busiest, step, bound=step))
    if not x.overlap:
        gap = max(abs(e - c - m) for c, m, e in zip(sim["compute_s"], sim["comm_s"], ends))
        checks.append(_at_most_tol("no overlap: step = compute + communication",
                                   Formula(0.0, "|step - compute - communication|, the largest of any rank", DERIVED), gap, step))
    if x.jitter:
        notes.append("jitter: compute times are random draws, so the closed forms check counts and bounds only")
    elif exp.ops:
        form = [compute_seconds(exp.ops, s) + o for s, o in zip(x.slowdown, exp.optimizer_s)]
        worst = max(range(len(form)), key=lambda r: abs(sim["compute_s"][r] - form[r]))
        checks.append(_close("compute time (the rank furthest from its form)", Formula(form[worst], "roofline time of "
                             "each op x the rank's straggler factor, summed", WILLIAMS), sim["compute_s"][worst]))
    if exp.step is None:
        if not x.remat.timed:
            notes.append(f"{x.remat.kind}: the closed forms know the op order of store_all and checkpoint_every_k only; "
                         "the step is checked against the identities above")
        return checks
    alike = len(set(x.slowdown)) == 1
    parts = "forward + backward + exposed communication + optimizer"
    form = Formula(exp.step.step, parts + (" + weight all-gathers" if x.zero in (1, 2) else ""), f"{LI}; {DERIVED}")
    if alike:
        checks.append(_close("step time", form, step))
        text = ("the last bucket's collective + what the backward pass could not hide" if x.overlap
                else "every collective (nothing overlaps)")
        text += " + the weight all-gathers" if x.zero in (1, 2) else ""
        text += " + the layer gathers prefetching did not hide" if x.zero == 3 and x.overlap and x.prefetch else ""
        checks.append(_close("exposed communication", Formula(exp.step.exposed, text, DERIVED), max(sim["exposed_s"])))
    else:
        checks.append(_straggler_step(trace, exp.step, step, notes))
    return checks


def _straggler_step(trace: Trace, form: StepForm, step: float, notes: list[str]) -> Check:
    """With unequal ranks the step lies above the slowest rank's compute and, unless messages met busy links, at or
    below the bulk-synchronous model; an excess over the model must be explained by such messages (the ranks that
    came early start the next bucket's collective while the late ones still finish this one, and the two meet)."""
    low = max(form.compute)
    name, text = "step time (straggler)", "the slowest rank's compute <= step <= the bulk-synchronous model"
    slack = TOLERANCE * max(step, 1e-300)
    notes.append(f"a straggler: the step lies between the slowest rank's compute ({low:.9g} s) and the bulk-synchronous "
                 f"model ({form.step:.9g} s), where each collective starts once every rank has issued it")
    if step < low - slack:
        return Check(name, form.step, step, False, "FAIL", text, DERIVED)
    if step <= form.step + slack:
        return Check(name, form.step, step, True, "bound", text, f"{LI}; {DERIVED}")
    delays = message_delays(trace)
    if not delays.delayed:
        notes.append(f"the step is {step - form.step:.6g} s over the bulk-synchronous model and no message waited: unexplained")
        return Check(name, form.step, step, False, "FAIL", text, DERIVED)
    busiest = np.argsort(-delays.by_link[:-1])[:3]
    links = ", ".join(trace.links[i].name for i in busiest if delays.by_link[i] > 0)
    notes.append(f"the step is {step - form.step:.6g} s over the bulk-synchronous model: {delays.delayed} messages waited "
                 f"{delays.total_s:.6g} s in all for busy links ({links}), where consecutive buckets' collectives met")
    return Check(name, form.step, step, True, "explained", text, f"{LI}; {DERIVED}")


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


def _at_most_tol(name: str, formula: Formula, simulated: float, scale: float, bound: float | None = None) -> Check:
    """simulated <= the formula (rounding allowed, relative to ``scale``); a rounding residue shows as 0."""
    ok = simulated <= formula.value + TOLERANCE * max(scale, 1e-300)
    shown = simulated if not ok or bound is not None or abs(simulated) > TOLERANCE * scale else 0.0
    return Check(name, formula.value, shown, ok, "ok" if ok else "FAIL", formula.text, formula.source)
