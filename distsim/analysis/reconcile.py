"""Expected vs simulated: one check per quantity, and an explanation for every difference.

Counts, sizes, total bytes and the bytes between every pair of ranks must match
exactly. The makespan is held against lower bounds — the contention-free
alpha-beta formula over each message's route, and the link-load bound (the
busiest link's bytes over its bandwidth, phase by phase) — which it may never
beat; when it is longer than a bound, the difference must be accounted for by
another bound or explained by what the trace shows (messages delayed by busy
links, named), otherwise the check fails. Extra exact models (such as the
parameter server's link bottleneck) are checked exactly where they apply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from distsim.analysis.closed_forms import Expectation, Formula, Inputs, expectation
from distsim.analysis.links import link_loads, message_delays
from distsim.analysis.platform import Platform, link_load_bound
from distsim.fmt import fmt_bytes, fmt_time
from distsim.trace import CHUNK, Trace

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
        return all(c.ok for c in self.checks if c.name in ("messages", "message sizes", "total bytes", "traffic per pair"))


def simulated_counts(trace: Trace) -> dict:
    """Counts measured from the trace: what the simulated processes actually sent."""
    sizes: dict[int, int] = {}
    for part in trace.messages.slices(("nbytes",), CHUNK):  # no sorted copy of a 33-million-row column
        values, counts = np.unique(part["nbytes"], return_counts=True)
        for size, count in zip(values.tolist(), counts.tolist()):
            sizes[size] = sizes.get(size, 0) + count
    return {
        "messages": len(trace.messages),
        "message_bytes": dict(sorted(sizes.items())),
        "total_bytes": sum(size * count for size, count in sizes.items()),
        "makespan_s": trace.makespan,
    }


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
        checks.append(_traffic(exp.traffic, trace))
    bounds = []  # (check name, formula): times the makespan can never beat
    if exp.makespan is not None:
        bounds.append((CONTENTION_FREE, exp.makespan))
    if exp.traffic is not None and inputs.platform is not None:
        bounds.append((LINK_LOAD, link_load_formula(exp.traffic.value, inputs.platform)))
    exact = [(f"makespan ({name})", model) for name, model in exp.models.items()]
    time_checks, notes = _makespan(trace, inputs, bounds, exact)
    return Reconciliation(checks + time_checks, notes, sim, expected_dict(exp, bounds))


CONTENTION_FREE = "makespan (contention-free alpha-beta)"
LINK_LOAD = "makespan (link-load bound)"


def link_load_formula(traffic, platform: Platform) -> Formula:
    """The link-load lower bound of a closed form's traffic, phase after phase."""
    phases = traffic if isinstance(traffic, list) else [traffic]
    found = [link_load_bound(phase, platform) for phase in phases]
    total = math.fsum(bound.value for bound in found)
    names = ", then ".join(
        f"{platform.links[b.link].name} carries {fmt_bytes(b.load)} ({fmt_time(b.busy)})" for b in found if b.link >= 0
    )
    return Formula(total, f"max over links of W/B + latencies{' per phase' if len(phases) > 1 else ''}: {names}", LINK_LOAD_SOURCE)


LINK_LOAD_SOURCE = "a link of bandwidth B that must carry W bytes is busy W/B (docs/model.md, the analyzer's bounds)"


def expected_dict(exp: Expectation, bounds: list[tuple[str, Formula]] = ()) -> dict:
    result = {
        "messages": exp.messages.value,
        "message_bytes": exp.message_bytes.value,
        "total_bytes": exp.total_bytes.value,
        "makespan_s": exp.makespan.value if exp.makespan else None,
    }
    for name, bound in bounds:
        if name == LINK_LOAD:
            result["link_load_bound_s"] = bound.value
    for name, model in exp.models.items():
        result[f"makespan_s ({name})"] = model.value
    return result


def _exact(name: str, formula: Formula, simulated) -> Check:
    ok = formula.value == simulated
    return Check(name, formula.value, simulated, ok, "ok" if ok else "FAIL", formula.text, formula.source)


def _traffic(formula: Formula, trace: Trace) -> Check:
    """Bytes per ordered pair of ranks, summed over phases, against what the trace shows."""
    phases = formula.value if isinstance(formula.value, list) else [formula.value]
    expected: dict[tuple[int, int], float] = {}
    for phase in phases:
        for pair, nbytes in phase.items():
            expected[pair] = expected.get(pair, 0) + nbytes
    on_network = {pair: nbytes for pair, nbytes in expected.items()
                  if nbytes and trace.placement[pair[0]] != trace.placement[pair[1]]}
    simulated = trace.pair_bytes()
    ok = on_network == simulated
    shown_expected, shown_simulated = _traffic_summary(on_network), _traffic_summary(simulated)
    if not ok:
        wrong = sorted(set(on_network) ^ set(simulated) | {k for k in on_network if on_network[k] != simulated.get(k)})
        pair = wrong[0]
        shown_simulated += f"; {trace.ranks[pair[0]]}->{trace.ranks[pair[1]]}: {simulated.get(pair, 0)} bytes, expected {on_network.get(pair, 0)}"
    return Check("traffic per pair", shown_expected, shown_simulated, ok, "ok" if ok else "FAIL", formula.text, formula.source)


def _traffic_summary(pairs: dict) -> str:
    return f"{len(pairs)} pairs, {fmt_bytes(sum(pairs.values()))}"


def _close(expected: float, simulated: float) -> bool:
    return abs(simulated - expected) <= TIME_TOLERANCE * max(abs(expected), 1e-300)


def _time_exact(name: str, formula: Formula, simulated: float) -> Check:
    ok = _close(formula.value, simulated)
    return Check(name, formula.value, simulated, ok, "ok" if ok else "FAIL", formula.text, formula.source)


def _makespan(trace: Trace, inputs: Inputs, bounds: list, exact: list) -> tuple[list[Check], list[str]]:
    """Bounds the makespan cannot beat, exact models it must equal; an excess must be explained.

    A bound's status: ``ok`` when the makespan meets it, ``holds`` when the makespan is
    above it but another bound or exact model accounts for all of it, ``explained``
    when it is above and the trace shows why (messages delayed by busy links),
    ``FAIL`` when the makespan beats it or exceeds it with no reason in the trace.
    """
    simulated = trace.makespan
    checks = [_time_exact(name, formula, simulated) for name, formula in exact]
    accounted = [f.value for _, f in bounds] + [f.value for name, f in exact if _close(f.value, simulated)]
    reasons = None
    notes: list[str] = []
    for name, formula in bounds:
        expected = formula.value
        if _close(expected, simulated):
            status = "ok"
        elif simulated < expected:
            status = "FAIL"
            notes.append(f"the simulated makespan {fmt_time(simulated)} beats a lower bound, {name} = {fmt_time(expected)}: "
                         "the network model broke its own rules.")
        else:
            if reasons is None:
                reasons = explain(trace, inputs)
            if reasons:
                status = "explained"
            elif any(_close(value, simulated) for value in accounted):
                status = "holds"
            else:
                status = "FAIL"
            if status != "holds":
                head = (f"simulated makespan {fmt_time(simulated)} is {fmt_time(simulated - expected)} longer "
                        f"({simulated / expected:.3g}x) than the {name[10:-1]} {fmt_time(expected)}.")
                notes += [head] + (reasons or ["the trace shows no delayed message that would explain it."])
        checks.append(Check(name, expected, simulated, status != "FAIL", status, formula.text, formula.source))
    return checks, _dedupe(notes)


def _dedupe(notes: list[str]) -> list[str]:
    return list(dict.fromkeys(notes))


def explain(trace: Trace, inputs: Inputs) -> list[str]:
    """Why messages arrived later than on an idle network: the links that held them up."""
    delays = message_delays(trace)
    if delays.total_s <= 0:
        return []
    loads = link_loads(trace, delays)
    gradient = inputs.params * inputs.bytes_per_param
    top = loads[0]
    hot = [load for load in loads if load.busy_s >= 0.9 * top.busy_s][:4]
    carried = "; ".join(
        f"{load.name} carried {fmt_bytes(load.bytes)} ({load.bytes / gradient:.3g} x p s) and was busy "
        f"{fmt_time(load.busy_s)} ({100 * load.utilization:.0f}% of the makespan)"
        for load in hot
    )
    blockers = sorted((l for l in loads if l.wait_caused_s >= 0.1 * delays.total_s), key=lambda l: -l.wait_caused_s)[:3]
    return [
        f"contention: bottleneck link{'s' if len(hot) > 1 else ''} {carried}.",
        f"{delays.delayed:,} messages arrived {fmt_time(delays.total_s)} later in total than on an idle network, held up by "
        + ", ".join(f"{l.name} ({fmt_time(l.wait_caused_s)})" for l in blockers) + ".",
    ]
