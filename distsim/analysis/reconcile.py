"""Expected vs simulated: one check per quantity, and an explanation for every difference.

Counts, sizes and bytes must match exactly. The makespan is compared with the
contention-free alpha-beta formula; when the simulation is slower, the
difference must be explained by what the trace shows (messages that waited for
busy links, or routes slower than one alpha-beta hop), otherwise the check fails.
Extra exact models (such as the parameter server's link bottleneck) are checked
exactly where they apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from distsim.analysis.closed_forms import Expectation, Formula, Inputs, expectation
from distsim.analysis.links import link_loads, route_stats, total_wait
from distsim.fmt import fmt_bytes, fmt_time
from distsim.trace import Trace

TIME_TOLERANCE = 1e-9  # relative; the simulation accumulates one rounding per step


@dataclass(frozen=True)
class Check:
    name: str
    expected: object
    simulated: object
    ok: bool
    status: str  # "ok", "FAIL", "explained" (slower than contention-free, and the trace shows why)
    formula: str = ""
    source: str = ""


@dataclass
class Reconciliation:
    checks: list[Check]
    notes: list[str] = field(default_factory=list)  # the explanation, sentence by sentence
    simulated: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def counts_ok(self) -> bool:
        return all(c.ok for c in self.checks if c.name in ("messages", "message sizes", "total bytes"))


def simulated_counts(trace: Trace) -> dict:
    """Counts measured from the trace: what the simulated processes actually sent."""
    nbytes = trace.messages["nbytes"]
    sizes, counts = np.unique(nbytes, return_counts=True)
    return {
        "messages": len(nbytes),
        "message_bytes": {int(size): int(count) for size, count in zip(sizes, counts)},
        "total_bytes": int(nbytes.sum()),
        "makespan_s": trace.makespan,
    }


def pair_bytes(trace: Trace) -> dict[tuple[int, int], int]:
    """Bytes the trace shows from each rank to each other: {(src, dst): bytes}."""
    m = trace.messages
    if not len(m):
        return {}
    width = len(trace.ranks)
    keys, inverse = np.unique(m["src"].astype(np.int64) * width + m["dst"], return_inverse=True)
    sums = np.zeros(len(keys), dtype=np.int64)
    np.add.at(sums, inverse, m["nbytes"])
    return {divmod(int(key), width): int(total) for key, total in zip(keys, sums)}


def reconcile(trace: Trace, inputs: Inputs) -> Reconciliation:
    sim = simulated_counts(trace)
    exp = expectation(inputs)
    if exp is None:
        return Reconciliation([], [f"no closed form is known for {inputs.kind!r}; nothing to reconcile"], sim, {})
    checks = [
        _exact("messages", exp.messages, sim["messages"]),
        _exact("message sizes", exp.message_bytes, sim["message_bytes"]),
        _exact("total bytes", exp.total_bytes, sim["total_bytes"]),
    ]
    if exp.traffic is not None:
        checks.append(_exact("traffic per pair", exp.traffic, pair_bytes(trace)))
    notes = []
    if exp.makespan is not None:
        check, why = _makespan(exp.makespan, trace, inputs)
        checks.append(check)
        notes += why
    for name, model in exp.models.items():
        checks.append(_time_exact(f"makespan ({name})", model, trace.makespan))
    return Reconciliation(checks, notes, sim, expected_dict(exp))


def expected_dict(exp: Expectation) -> dict:
    result = {
        "messages": exp.messages.value,
        "message_bytes": exp.message_bytes.value,
        "total_bytes": exp.total_bytes.value,
        "makespan_s": exp.makespan.value if exp.makespan else None,
    }
    for name, model in exp.models.items():
        result[f"makespan_s ({name})"] = model.value
    return result


def _exact(name: str, formula: Formula, simulated) -> Check:
    ok = formula.value == simulated
    return Check(name, formula.value, simulated, ok, "ok" if ok else "FAIL", formula.text, formula.source)


def _close(expected: float, simulated: float) -> bool:
    return abs(simulated - expected) <= TIME_TOLERANCE * max(abs(expected), 1e-300)


def _time_exact(name: str, formula: Formula, simulated: float) -> Check:
    ok = _close(formula.value, simulated)
    return Check(name, formula.value, simulated, ok, "ok" if ok else "FAIL", formula.text, formula.source)


def _makespan(formula: Formula, trace: Trace, inputs: Inputs) -> tuple[Check, list[str]]:
    simulated, expected = trace.makespan, formula.value
    name = "makespan (contention-free alpha-beta)"
    if _close(expected, simulated):
        return Check(name, expected, simulated, True, "ok", formula.text, formula.source), []
    reasons = explain(trace, inputs, expected)
    explained = simulated > expected and bool(reasons)
    status = "explained" if explained else "FAIL"
    head = (
        f"simulated makespan {fmt_time(simulated)} is {fmt_time(simulated - expected)} longer "
        f"({simulated / expected:.3g}x) than the contention-free {fmt_time(expected)}"
    )
    if not explained:
        reasons = reasons or ["the trace shows no queueing and no slow route that would explain it"]
    return Check(name, expected, simulated, explained, status, formula.text, formula.source), [head + "."] + reasons


def explain(trace: Trace, inputs: Inputs, expected: float) -> list[str]:
    """Why a run took longer than the contention-free formula: contention, then topology."""
    reasons = []
    wait = total_wait(trace)
    loads = link_loads(trace)
    gradient = inputs.params * inputs.bytes_per_param
    if wait > 0 and loads:
        top = loads[0]
        hot = [load for load in loads if load.busy_s >= 0.9 * top.busy_s][:4]
        carried = "; ".join(
            f"{load.name} carried {fmt_bytes(load.bytes)} ({load.bytes / gradient:.3g} x p s) and was busy "
            f"{fmt_time(load.busy_s)} ({100 * load.utilization:.0f}% of the makespan)"
            for load in hot
        )
        blockers = sorted((l for l in loads if l.wait_caused_s >= 0.1 * wait), key=lambda l: -l.wait_caused_s)[:3]
        reasons.append(f"contention: bottleneck link{'s' if len(hot) > 1 else ''} {carried}.")
        reasons.append(
            f"messages waited {fmt_time(wait)} in total for busy links: "
            + ", ".join(f"{fmt_time(l.wait_caused_s)} behind {l.name}" for l in blockers) + "."
        )
    slow = [
        (key, hops, bw, lat)
        for key, (hops, bw, lat) in route_stats(trace).items()
        if bw < inputs.bandwidth or lat > inputs.latency * (1 + TIME_TOLERANCE)
    ]
    if slow:
        key, hops, bw, lat = max(slow, key=lambda r: r[3] + gradient / r[2])
        reasons.append(
            f"topology: {len(slow)} routes are slower than one alpha-beta hop, e.g. {trace.nodes[key[0]]}->{trace.nodes[key[1]]} "
            f"has {hops} links, latency {fmt_time(lat)} and bandwidth {fmt_bytes(bw)}/s."
        )
    return reasons
