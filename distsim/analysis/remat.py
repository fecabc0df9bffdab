"""Closed forms for the rematerialization schedules, and their reconciliation with an op trace.

Derived from the sources each names, never from the schedule code: this module
imports neither ``distsim.strategies`` nor ``distsim.remat``. Notation: L layers,
a_0 the input and a_i layer i's output; backward step i needs a_i (exam.md); k
the checkpoint interval, n PyTorch's segments and m = ⌊L/n⌋, s Revolve's
snapshot slots; ``il`` is 1 when the first layer's weight gradient must load the
input (the ``input_load`` option), else 0.

Each schedule's form lists, per layer, how often the backward pass reruns it and
which stored activations it loads; counts and times follow from those lists,
while each count is also written as the textbook's formula (the two must agree).
Peaks are in activations and hold when all activations have one size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import ceil, comb

import numpy as np

from distsim.analysis.closed_forms import Formula
from distsim.analysis.reconcile import Check, Reconciliation
from distsim.trace import Trace

EXAM = "exam.md problem 2 (tensor rematerialization)"
CHEN = "Chen et al. 2016, Training deep nets with sublinear memory cost (arXiv:1604.06174), sec. 4"
REVOLVE = "Griewank & Walther 2000, Algorithm 799: Revolve (ACM TOMS 26(1)), binomial bound"
PYTORCH = "PyTorch docs, torch.utils.checkpoint.checkpoint_sequential (all segments but the last are rerun)"
DERIVED = "derived in docs/rematerialization.md"
TIME_TOLERANCE = 1e-9  # relative: the simulation adds op times one by one


@dataclass(frozen=True)
class RematInputs:
    """What the closed forms may know: the scenario's chain and the schedule's resolved parameters."""

    kind: str
    sizes: tuple[int, ...]  # bytes of a_0 .. a_L
    fwd_s: tuple[float, ...]  # seconds of layers 1..L (index 0 unused)
    bwd_s: tuple[float, ...]
    load_mem: Callable[[int], float]  # seconds to load an activation of that many bytes from memory
    load_disk: Callable[[int], float]
    store_mem_s: float = 0.0  # store latency of the memory tier (Revolve stores in the backward pass)
    params: dict = field(default_factory=dict)  # k, segments, slots, budget, input_load

    @property
    def layers(self) -> int:
        return len(self.sizes) - 1


@dataclass
class Form:
    """One schedule's closed forms: counts as formulas, plus what the backward pass reruns and loads."""

    fwd: Formula  # forward ops in the backward pass (recomputation)
    loadmem: Formula
    stored: Formula | None  # activations stored in memory by the forward pass
    peak: Formula | None  # peak activations in device memory (uniform sizes), or a bound
    reruns: dict[int, int] | None = None  # layer -> times rerun in the backward pass
    loads: dict[int, int] | None = None  # activation -> loadmem count
    disk_loads: dict[int, int] = field(default_factory=dict)
    loaddisk: Formula | None = None
    peak_is_bound: bool = False
    notes: list[str] = field(default_factory=list)


def _count(mapping: dict[int, int]) -> int:
    return sum(mapping.values())


def store_all(x: RematInputs) -> Form:
    L, il = x.layers, x.params.get("input_load", False)
    loads = {i: 1 for i in range(1, L + 1)} | ({0: 1} if il else {})
    return Form(
        fwd=Formula(0, "0 (nothing is recomputed)", EXAM),
        loadmem=Formula(L + il, "L" + (" + 1 (a_0 for bwd 1)" if il else " (one load per layer)"), EXAM),
        stored=Formula(L + 1, "L + 1", EXAM),
        peak=Formula(L + 1, "L + 1 activations", DERIVED),
        reruns={}, loads=loads,
    )


def checkpoint_every_k(x: RematInputs) -> Form:
    L, k, il = x.layers, x.params["k"], x.params.get("input_load", False)
    # Layer j (not a checkpoint) is rerun once for each layer i >= j below the next checkpoint.
    reruns = {j: min(k * (j // k) + k - 1, L) - j + 1 for j in range(1, L + 1) if j % k}
    loads: dict[int, int] = {}
    for i in range(1, L + 1):
        loads[k * (i // k)] = loads.get(k * (i // k), 0) + 1  # the last stored activation at or below i
    extra = int(il and k == 1)  # with k >= 2, bwd 1 runs on the a_0 it was recomputed from
    if extra:
        loads[0] = loads.get(0, 0) + 1
    return Form(
        fwd=Formula(sum(i % k for i in range(1, L + 1)), "sum_{i=1..L} (i mod k)", EXAM),
        loadmem=Formula(L + extra, "L" + (" + 1 (a_0 for bwd 1, k = 1)" if extra else ""), EXAM),
        stored=Formula(L // k + 1, "floor(L/k) + 1", EXAM),
        peak=Formula(2 + ceil((L - 1) / k), "2 + ceil((L-1)/k): the checkpoints below a_L, a_{L-1} and a_L", DERIVED),
        reruns=reruns, loads=loads,
    )


def segment_recompute(x: RematInputs) -> Form:
    L, k, il = x.layers, x.params["k"], x.params.get("input_load", False)
    q = L // k
    reruns = {j: 1 for j in range(1, L + 1) if j % k}
    segments = [b for b in range(0, q * k + 1, k) if min(b + k - 1, L) >= 1]  # those holding a layer to backprop
    loads = {b: 1 for b in segments}
    extra = int(il and k == 1)
    if extra:
        loads[0] = 1
    # Backward: segment b = j k holds its j + 1 checkpoints and its recomputed activations.
    backward = max(q + 1 + L % k, q - 1 + k if q >= 1 else 0)
    return Form(
        fwd=Formula(L - L // k, "L - floor(L/k)", CHEN),
        loadmem=Formula(len(segments) + extra, "floor(L/k) + [k >= 2] (one load per segment)" + (" + 1 (a_0, k = 1)" if extra else ""), DERIVED),
        stored=Formula(q + 1, "floor(L/k) + 1", CHEN),
        peak=Formula(max(2 + ceil((L - 1) / k), backward),
                     "max(2 + ceil((L-1)/k), floor(L/k) + 1 + L mod k, floor(L/k) - 1 + k)", DERIVED),
        reruns=reruns, loads=loads,
    )


def checkpoint_sequential(x: RematInputs) -> Form:
    L, n, il = x.layers, x.params["segments"], x.params.get("input_load", False)
    m = L // n
    last = (n - 1) * m  # the last chunk (layers last+1 .. L) is not checkpointed
    reruns = {j: 1 for j in range(1, last + 1)}
    loads = {i: 1 for i in range(last + 1, L + 1)} | {c * m: 1 for c in range(n - 1)}
    extra = int(il and n == 1)
    if extra:
        loads[0] = 1
    peak = L + 1 if n == 1 else max(n + L - last, n - 1 + m)
    return Form(
        fwd=Formula((n - 1) * m, "(n-1) floor(L/n): every chunk but the last is rerun", PYTORCH),
        loadmem=Formula(L - last + n - 1 + extra, "L - (n-1)m + (n-1): the last chunk's activations and the chunk inputs"
                        + (" + 1 (a_0, n = 1)" if extra else ""), PYTORCH),
        stored=Formula(L - last + n, "(n-1) chunk inputs + the last chunk's L - (n-1)m + 1 activations", PYTORCH),
        peak=Formula(peak, "L + 1 if n = 1, else max(n + L - (n-1)m, n - 1 + m)", DERIVED),
        reruns=reruns, loads=loads,
    )


def disk_offload(x: RematInputs) -> Form:
    L, il = x.layers, x.params.get("input_load", False)
    return Form(
        fwd=Formula(0, "0", EXAM),
        loadmem=Formula(int(il), "1 (a_0 for bwd 1)" if il else "0", EXAM),
        stored=Formula(1, "1 (the input stays in memory)", EXAM),
        peak=Formula(1 + min(L, 2), "1 + min(L, 2): a_0, a_{i-1} and a_i", DERIVED),
        reruns={}, loads={0: 1} if il else {},
        disk_loads={i: 1 for i in range(1, L + 1)},
        loaddisk=Formula(L, "L (one loaddisk per layer)", EXAM),
    )


def revolve_steps(n: int, s: int) -> int:
    """Griewank & Walther's t(n, s) = r n − β(s+1, r−1), β(s, r) = C(s+r, s), r least with β(s, r) >= n."""
    if n <= 1:
        return 0
    r = 1
    while comb(s + r, s) < n:
        r += 1
    return r * n - comb(s + r, s + 1)


def optimal(x: RematInputs) -> Form:
    L, il = x.layers, x.params.get("input_load", False)
    s = min(x.params["slots"], L + 1)
    # The states a_0..a_L are n = L+1 steps of Revolve; its first sweep (L steps) is the forward pass.
    uniform = len(set(x.fwd_s[1:])) <= 1 and len(set(x.sizes)) == 1
    notes = [] if uniform else ["the time check needs one cost per layer: per-layer reruns of a binomial plan have no closed form"]
    if x.store_mem_s:
        notes.append("the time check needs a free store: the binomial plan stores checkpoints in the backward pass")
    return Form(
        fwd=Formula(revolve_steps(L + 1, s) - L, "t(L+1, s) - L, t(n, s) = r n - C(s+r, s+1)", REVOLVE),
        loadmem=Formula(L - 1 + il, "L - 1: one restore before every backward step but the first" + (" + 1 (a_0)" if il else ""), DERIVED),
        stored=None,
        peak=Formula(s + 2, "at most s + 2: the slots, the activation at hand and the one being computed", REVOLVE),
        peak_is_bound=True,
        reruns=None, loads=None, notes=notes,
    )


FORMS: dict[str, Callable[[RematInputs], Form]] = {
    "store_all": store_all,
    "checkpoint_every_k": checkpoint_every_k,
    "segment_recompute": segment_recompute,
    "checkpoint_sequential": checkpoint_sequential,
    "disk_offload": disk_offload,
    "optimal": optimal,
}


def simulated_remat(trace: Trace) -> dict:
    """Counts, times and memory read from the op table: what the simulated worker actually did."""
    ops = trace.ops.columns()
    names = np.array(trace.op_kinds or [""], dtype=object)[ops["kind"]] if len(trace.ops) else np.array([], dtype=object)
    cut = trace.meta.get("backward_first_op", len(names))
    forward, backward = names[:cut], names[cut:]
    duration = ops["t_end"] - ops["t_start"]
    start = trace.meta.get("backward_start_s", trace.makespan)
    bwd_time = float(np.sum(duration[cut:][backward == "bwd"]))
    held = np.cumsum(np.where(names == "storemem", 1, 0) - np.where(names == "freemem", 1, 0))
    return {
        "fwd_ops": int(np.sum(backward == "fwd")),
        "forward_pass_ops": int(np.sum(forward == "fwd")),
        "bwd_ops": int(np.sum(names == "bwd")),
        "loadmem_ops": int(np.sum(backward == "loadmem")),
        "loaddisk_ops": int(np.sum(backward == "loaddisk")),
        "storemem_ops": int(np.sum(names == "storemem")),
        "storedisk_ops": int(np.sum(names == "storedisk")),
        "stored_activations": int(np.sum(forward == "storemem")),
        "checkpoints_held_max": int(held.max()) if len(held) else 0,
        "backward_time_s": trace.makespan - start,
        "forward_time_s": start,
        "bwd_compute_s": bwd_time,
        "peak_activation_bytes": int(ops["memory_in_use"].max()) if len(trace.ops) else 0,
        "disk_peak_bytes": int(trace.meta.get("disk_peak_bytes", 0)),
    }


def reconcile_remat(trace: Trace, x: RematInputs) -> Reconciliation:
    sim = simulated_remat(trace)
    form_of = FORMS.get(x.kind)
    if form_of is None:
        return Reconciliation([], [f"no closed form is known for {x.kind!r}; nothing to reconcile"], sim, {})
    form = form_of(x)
    L = x.layers
    checks = [
        _exact("fwd ops (recomputation)", form.fwd, sim["fwd_ops"]),
        _exact("forward-pass fwd ops", Formula(L, "L", EXAM), sim["forward_pass_ops"]),
        _exact("bwd ops", Formula(L, "L (one backward step per layer)", EXAM), sim["bwd_ops"]),
        _exact("loadmem ops", form.loadmem, sim["loadmem_ops"]),
        _exact("loaddisk ops", form.loaddisk or Formula(0, "0", EXAM), sim["loaddisk_ops"]),
    ]
    expected = {"fwd_ops": form.fwd.value, "forward_pass_ops": L, "bwd_ops": L, "loadmem_ops": form.loadmem.value,
                "loaddisk_ops": (form.loaddisk.value if form.loaddisk else 0)}
    notes = list(form.notes)
    checks += _consistency(form, notes)
    if form.stored is not None:
        checks.append(_exact("stored activations", form.stored, sim["stored_activations"]))
        expected["stored_activations"] = form.stored.value
    else:
        slots = Formula(min(x.params["slots"], L + 1), "s (the slots)", REVOLVE)
        checks.append(_at_most("checkpoints held at once", slots, sim["checkpoints_held_max"]))
    checks += _peak(form, x, sim, expected, notes)
    if x.params.get("budget") is not None:  # whatever the sizes, the plan must fit the budget it was given
        budget = Formula(int(x.params["budget"]), "the budget", "the scenario")
        checks.append(_at_most("peak activation bytes within the budget", budget, sim["peak_activation_bytes"]))
    time = _backward_time(form, x)
    if time is not None:
        checks.append(_close("backward time", time, sim["backward_time_s"]))
        expected["backward_time_s"] = time.value
        if not form.loaddisk:
            even = Formula((time.value - sum(x.bwd_s)) / L, "(backward time - bwd time) / L loaddisk ops", EXAM)
            checks.append(_close("break-even loaddisk latency", even, (sim["backward_time_s"] - sim["bwd_compute_s"]) / L))
            expected["break_even_loaddisk_s"] = even.value
    return Reconciliation(checks, notes, sim, expected)


def _consistency(form: Form, notes: list[str]) -> list[Check]:
    """The textbook count and the per-layer lists are two derivations; they must agree before time is predicted."""
    checks = []
    if form.reruns is not None and _count(form.reruns) != form.fwd.value:
        notes.append(f"closed forms disagree: {form.fwd.text} = {form.fwd.value} but the per-layer reruns sum to {_count(form.reruns)}")
        checks.append(Check("closed forms agree (reruns)", form.fwd.value, _count(form.reruns), False, "FAIL", form.fwd.text, DERIVED))
    if form.loads is not None and _count(form.loads) != form.loadmem.value:
        notes.append(f"closed forms disagree: {form.loadmem.text} = {form.loadmem.value} but the loads listed sum to {_count(form.loads)}")
        checks.append(Check("closed forms agree (loads)", form.loadmem.value, _count(form.loads), False, "FAIL", form.loadmem.text, DERIVED))
    return checks


def _peak(form: Form, x: RematInputs, sim: dict, expected: dict, notes: list[str]) -> list[Check]:
    if form.peak is None:
        return []
    if len(set(x.sizes)) != 1:
        notes.append("peak memory: the closed form counts activations, so it is checked only when all have one size")
        return []
    size = x.sizes[0]
    peak = Formula(form.peak.value * size, f"({form.peak.text}) x activation bytes", form.peak.source)
    if form.peak_is_bound:
        expected["peak_activation_bytes_at_most"] = peak.value
        return [_at_most("peak activation bytes", peak, sim["peak_activation_bytes"])]
    expected["peak_activation_bytes"] = peak.value
    return [_exact("peak activation bytes", peak, sim["peak_activation_bytes"])]


def _backward_time(form: Form, x: RematInputs) -> Formula | None:
    """Σ reruns·t_fwd + Σ loads·t_load + Σ t_bwd: the backward pass runs one op at a time."""
    bwd = sum(x.bwd_s)
    if form.reruns is not None and form.loads is not None:
        value = (sum(n * x.fwd_s[j] for j, n in form.reruns.items()) + sum(n * x.load_mem(x.sizes[i]) for i, n in form.loads.items())
                 + sum(n * x.load_disk(x.sizes[i]) for i, n in form.disk_loads.items()) + bwd)
        return Formula(value, "fwd ops x t_fwd + loadmem x t_loadmem + loaddisk x t_loaddisk + L x t_bwd", EXAM)
    if form.notes:  # why there is no closed form for this run's time
        return None
    value = form.fwd.value * x.fwd_s[1] + form.loadmem.value * x.load_mem(x.sizes[0]) + bwd
    return Formula(value, "fwd ops x t_fwd + loadmem x t_loadmem + L x t_bwd", f"{REVOLVE}; {EXAM}")


def _exact(name: str, formula: Formula, simulated) -> Check:
    ok = formula.value == simulated
    return Check(name, formula.value, simulated, ok, "ok" if ok else "FAIL", formula.text, formula.source)


def _at_most(name: str, formula: Formula, simulated) -> Check:
    ok = simulated <= formula.value
    return Check(name + " (at most)", formula.value, simulated, ok, "ok" if ok else "FAIL", formula.text, formula.source)


def _close(name: str, formula: Formula, simulated: float) -> Check:
    ok = abs(simulated - formula.value) <= TIME_TOLERANCE * max(abs(formula.value), 1e-300)
    return Check(name, formula.value, simulated, ok, "ok" if ok else "FAIL", formula.text, formula.source)
