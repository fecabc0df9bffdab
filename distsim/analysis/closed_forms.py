"""Closed forms for each gradient-exchange strategy, derived from the literature, not from our code.

This module never imports ``distsim.strategies``: the reconciliation is only worth
something if the expected numbers are an independent derivation. Every formula
names its source. Notation: n workers, p parameters, s bytes per parameter,
alpha the latency of one hop, beta the link bandwidth (bytes/s), F the GPU's
FLOP/s, T = p*s/beta the time to put one whole gradient on a link.

Latency is propagation (it does not occupy the link), so eager back-to-back
sends overlap their latencies: a rank that sends k messages of m bytes on one
link finishes at alpha + k*m/beta, not k*(alpha + m/beta).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

EXAM = "exam.md problem 1 (messages per gradient exchange)"
HOCKNEY = "Hockney 1994, alpha-beta model: a message of m bytes costs alpha + m/beta"
THAKUR = "Thakur, Rabenseifner & Gropp 2005, Optimization of collective communication operations in MPICH"
PATARASUK = "Patarasuk & Yuan 2009, Bandwidth optimal all-reduce algorithms for clusters of workstations"
CHAN = "Chan et al. 2007, Collective communication: theory, practice, and experience (gamma term)"
LI = "Li et al. 2014, Scaling distributed machine learning with the parameter server"


@dataclass(frozen=True)
class Inputs:
    """The numbers a closed form may use: all from the scenario, none from a trace."""

    kind: str
    workers: int
    params: int
    bytes_per_param: int
    bandwidth: float
    latency: float
    topology: str
    flops: float
    reduce_compute: bool = False
    server: str | int = "dedicated"
    collective: object | None = None  # analysis.collectives.CollectiveCall, for kind "collective"


@dataclass(frozen=True)
class Formula:
    """A predicted quantity, how it is computed, and where the formula comes from."""

    value: float | int | dict
    text: str
    source: str


@dataclass(frozen=True)
class Expectation:
    messages: Formula
    message_bytes: Formula  # {size in bytes: number of messages}
    total_bytes: Formula
    makespan: Formula | None  # alpha-beta makespan on a contention-free network; None if no closed form
    # Other exact time predictions for this topology (e.g. the server-bottleneck model), by name.
    models: dict[str, Formula] = field(default_factory=dict)
    traffic: Formula | None = None  # {(src rank, dst rank): bytes}


def _gamma_chain(first_arrival: float, gap: float, compute: float, count: int) -> float:
    """When ``count`` messages arrive ``gap`` apart from ``first_arrival`` and each needs
    ``compute`` seconds of reduction on one device, in arrival order: the time the last
    reduction ends (a max-plus recurrence with a closed solution)."""
    if count == 0:
        return first_arrival
    return first_arrival + compute + (count - 1) * max(gap, compute)


def ring_allreduce(x: Inputs) -> Expectation:
    n, p, s = x.workers, x.params, x.bytes_per_param
    q, r = divmod(p, n)
    steps = 2 * (n - 1)
    sizes = {k: v for k, v in {(q + 1) * s: steps * r, q * s: steps * (n - r)}.items() if v}
    largest = math.ceil(p / n)
    step_time = x.latency + largest * s / x.bandwidth
    gamma = (n - 1) * largest / x.flops if x.reduce_compute else 0.0
    # Exact on switch, ring and fully_connected, where every ring neighbour is one alpha-beta hop
    # away; on a user's graph it is the bound the graph is measured against (longer routes are
    # explained as topology).
    makespan = Formula(
        steps * step_time + gamma,
        "2(n-1)(alpha + ceil(p/n) s/beta)" + (" + (n-1) ceil(p/n)/F" if gamma else ""),
        f"{PATARASUK}; {THAKUR}" + (f"; {CHAN}" if gamma else ""),
    )
    return Expectation(
        messages=Formula(2 * n * (n - 1), "2n(n-1)", EXAM),
        message_bytes=Formula(sizes, "2(n-1) per chunk: (p mod n) chunks of ceil(p/n), the rest floor(p/n), times s", EXAM),
        total_bytes=Formula(2 * (n - 1) * p * s, "2(n-1) p s", f"{EXAM}; {PATARASUK} (bandwidth-optimal)"),
        makespan=makespan,
    )


def all_to_all(x: Inputs) -> Expectation:
    n, p, s = x.workers, x.params, x.bytes_per_param
    t = p * s / x.bandwidth
    c = p / x.flops if x.reduce_compute else 0.0
    makespan = None
    if x.topology == "switch":  # one NIC per worker: its n-1 sends leave back to back
        value = _gamma_chain(x.latency + t, t, c, n - 1) if c else x.latency + (n - 1) * t
        makespan = Formula(value, "alpha + (n-1) p s/beta" + (" with reductions chained" if c else ""), f"{THAKUR} (pairwise exchange); {HOCKNEY}")
    elif x.topology == "fully_connected":  # a cable per pair: all n-1 sends in parallel
        value = _gamma_chain(x.latency + t, 0.0, c, n - 1) if c else x.latency + t
        makespan = Formula(value, "alpha + p s/beta" + (" + (n-1) p/F" if c else ""), HOCKNEY)
    return Expectation(
        messages=Formula(n * (n - 1), "n(n-1)", EXAM),
        message_bytes=Formula({p * s: n * (n - 1)}, "n(n-1) messages of p s", EXAM),
        total_bytes=Formula(n * (n - 1) * p * s, "n(n-1) p s", EXAM),
        makespan=makespan,
    )


def parameter_server(x: Inputs) -> Expectation:
    n, p, s = x.workers, x.params, x.bytes_per_param
    remote = n if x.server == "dedicated" else n - 1  # a co-located worker's push and pull are local
    t = p * s / x.bandwidth
    c = p / x.flops if x.reduce_compute else 0.0
    # Contention-free (the exam's view): the server receives all pushes at once and answers at once.
    free = 2 * (x.latency + t) + (n + 2) * c
    models = {}
    if x.topology == "switch" and (x.server == "dedicated" or not c):
        # The server's one link serialises the pushes in and the pulls out (Li et al. 2014, section 2).
        pushed = _gamma_chain(x.latency + t, t, c, remote)
        models["server link bottleneck"] = Formula(
            pushed + 2 * c + remote * t + x.latency,
            "2 alpha + 2 n p s/beta (the server's link carries n p each way)" + (" + reductions" if c else ""),
            f"{LI}; {HOCKNEY}",
        )
    return Expectation(
        messages=Formula(2 * remote, "2n" if remote == n else "2(n-1) (server on a worker)", EXAM),
        message_bytes=Formula({p * s: 2 * remote}, "2n messages of p s", EXAM),
        total_bytes=Formula(2 * remote * p * s, "2 n p s", EXAM),
        makespan=Formula(free, "2(alpha + p s/beta)" + (" + (n+2) p/F" if c else ""), f"{EXAM}; {HOCKNEY}"),
        models=models,
    )


CLOSED_FORMS: dict[str, Callable[[Inputs], Expectation]] = {
    "all_to_all": all_to_all,
    "parameter_server": parameter_server,
    "ring_allreduce": ring_allreduce,
}


def expectation(x: Inputs) -> Expectation | None:
    """The closed forms for ``x.kind``, or None when distsim has none for that strategy."""
    if x.collective is not None:
        from distsim.analysis import collectives  # imports this module: loaded on first use

        return collectives.expectation(x)
    form = CLOSED_FORMS.get(x.kind)
    return form(x) if form else None
