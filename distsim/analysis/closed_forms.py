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

from distsim.analysis.platform import CUT_THROUGH, FLOW, STORE_AND_FORWARD, Platform

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
    network: str = CUT_THROUGH  # the network model (docs/model.md)
    platform: Platform | None = None  # alpha and beta per rank pair, from the topology (not the trace)
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
    # Bytes each ordered pair of ranks exchanges, {(src, dst): bytes}, or a list of such dicts
    # for phases that cannot overlap (a barrier between them): the analyzer checks the total
    # against the trace and routes each phase over the platform for the link-load lower bound.
    traffic: Formula | None = None


def _gamma_chain(first_arrival: float, gap: float, compute: float, count: int) -> float:
    """When ``count`` messages arrive ``gap`` apart from ``first_arrival`` and each needs
    ``compute`` seconds of reduction on one device, in arrival order: the time the last
    reduction ends (a max-plus recurrence with a closed solution)."""
    if count == 0:
        return first_arrival
    return first_arrival + compute + (count - 1) * max(gap, compute)


def pair_time(x: Inputs, src: int, dst: int, nbytes: float) -> float:
    """Contention-free time of one message between two ranks: on the platform's route when
    there is one, else alpha + b/beta over one hop of the scenario's network (a switch's
    uplink and downlink count as one alpha-beta hop, or two serialisations when stored
    and forwarded)."""
    if x.platform is not None:
        return x.platform.transfer(src, dst, nbytes)
    if x.network == STORE_AND_FORWARD:
        hops = 2 if x.topology == "switch" else 1
        return x.latency + hops * nbytes / x.bandwidth
    return x.latency + nbytes / x.bandwidth


def chunk_sizes(p: int, n: int) -> list[int]:
    """The ring's chunks: p split in n, the first (p mod n) one element larger."""
    q, r = divmod(p, n)
    return [q + 1 if i < r else q for i in range(n)]


def _in_order(arrivals, compute: float) -> float:
    """When the last of messages arriving at the given times, each reduced for ``compute``
    seconds in the order listed, has been reduced (0 compute: the last arrival)."""
    done = 0.0
    for arrival in arrivals:
        done = max(done, arrival) + compute
    return done


def ring_allreduce(x: Inputs) -> Expectation:
    n, p, s = x.workers, x.params, x.bytes_per_param
    q, r = divmod(p, n)
    steps = 2 * (n - 1)
    sizes = {k: v for k, v in {(q + 1) * s: steps * r, q * s: steps * (n - r)}.items() if v}
    chunks = chunk_sizes(p, n)
    makespan = Formula(
        _ring_makespan(x, chunks),
        "2(n-1)(alpha + ceil(p/n) s/beta)" + (" + (n-1) ceil(p/n)/F" if x.reduce_compute else ""),
        f"{PATARASUK}; {THAKUR}" + (f"; {CHAN}" if x.reduce_compute else ""),
    )
    # Rank r sends every chunk but r+1 in reduce-scatter and every chunk but r+2 in all-gather.
    traffic = {(rank, (rank + 1) % n): (2 * p - chunks[(rank + 1) % n] - chunks[(rank + 2) % n]) * s for rank in range(n)}
    return Expectation(
        messages=Formula(2 * n * (n - 1), "2n(n-1)", EXAM),
        message_bytes=Formula(sizes, "2(n-1) per chunk: (p mod n) chunks of ceil(p/n), the rest floor(p/n), times s", EXAM),
        total_bytes=Formula(2 * (n - 1) * p * s, "2(n-1) p s", f"{EXAM}; {PATARASUK} (bandwidth-optimal)"),
        makespan=makespan,
        traffic=Formula(traffic, "rank r -> r+1: (2p - chunk(r+1) - chunk(r+2)) s", EXAM),
    )


def _ring_makespan(x: Inputs, chunks: list[int]) -> float:
    """The ring's contention-free makespan on any topology, in O(n).

    A rank sends step k as soon as step k-1 has arrived (and, in reduce-scatter, been
    added), so rank r's last chunk has come over the 2(n-1) ring edges before it, one
    after the other; and along that chain every message carries the same chunk,
    number r+2. Edge e -> e+1 costs alpha_e + b beta'_e (beta' = seconds per byte), and
    the chain covers every edge twice except edges r and r+1. Makespan: the longest
    chain. On a uniform network with n | p this is 2(n-1)(alpha + (p/n) s/beta).
    """
    n, s = x.workers, x.bytes_per_param
    if x.platform is None:
        hops = 2 if x.network == STORE_AND_FORWARD and x.topology == "switch" else 1
        alphas, per_byte = [x.latency] * n, [hops / x.bandwidth] * n
    else:
        alphas = [x.platform.latency(e, (e + 1) % n) for e in range(n)]
        per_byte = [x.platform.per_byte(e, (e + 1) % n) for e in range(n)]
    gamma = (n - 1) / x.flops if x.reduce_compute else 0.0  # per element of the chunk reduced
    if len(set(alphas)) == 1 and len(set(per_byte)) == 1:
        largest = max(chunks)
        return 2 * (n - 1) * (alphas[0] + largest * s * per_byte[0]) + gamma * largest
    two_alpha, two_beta = 2 * math.fsum(alphas), 2 * math.fsum(per_byte)
    return max(
        two_alpha - alphas[r] - alphas[(r + 1) % n]
        + chunks[(r + 2) % n] * (s * (two_beta - per_byte[r] - per_byte[(r + 1) % n]) + gamma)
        for r in range(n)
    )


def all_to_all(x: Inputs) -> Expectation:
    n, p, s = x.workers, x.params, x.bytes_per_param
    t = p * s / x.bandwidth
    c = p / x.flops if x.reduce_compute else 0.0
    flow = x.network == FLOW
    makespan = None
    if x.topology == "switch":
        # One NIC per worker: its n-1 sends leave back to back (flows: share it and end together);
        # in pairwise order no two senders target one receiver at once.
        last = (n - 2) * t + pair_time(x, 0, 1, p * s)
        value = _gamma_chain(last, 0.0, c, n - 1) if flow else _gamma_chain(last - (n - 2) * t, t, c, n - 1)
        makespan = Formula(value, "alpha + (n-1) p s/beta" + (" with reductions chained" if c else ""), f"{THAKUR} (pairwise exchange); {HOCKNEY}")
    elif x.topology == "fully_connected":  # a cable per pair: all n-1 sends in parallel
        value = _gamma_chain(pair_time(x, 0, 1, p * s), 0.0, c, n - 1)
        makespan = Formula(value, "alpha + p s/beta" + (" + (n-1) p/F" if c else ""), HOCKNEY)
    else:  # any other network: each message on its own route, received (and added) in order
        value = max(_in_order(((pair_time(x, (r - k) % n, r, p * s) for k in range(1, n))), c) for r in range(n))
        makespan = Formula(value, "max over ranks of its messages' alpha + p s/beta, in receive order"
                           + (" with reductions chained" if c else ""), HOCKNEY)
    traffic = {(a, b): p * s for a in range(n) for b in range(n) if a != b}
    return Expectation(
        messages=Formula(n * (n - 1), "n(n-1)", EXAM),
        message_bytes=Formula({p * s: n * (n - 1)}, "n(n-1) messages of p s", EXAM),
        total_bytes=Formula(n * (n - 1) * p * s, "n(n-1) p s", EXAM),
        makespan=makespan,
        traffic=Formula(traffic, "p s between every ordered pair", EXAM),
    )


def parameter_server(x: Inputs) -> Expectation:
    n, p, s = x.workers, x.params, x.bytes_per_param
    server = n  # the rank after the workers
    remote = n if x.server == "dedicated" else n - 1  # a co-located worker's push and pull are local
    workers = [w for w in range(n) if x.server == "dedicated" or w != x.server]
    t = p * s / x.bandwidth
    c = p / x.flops if x.reduce_compute else 0.0
    # Contention-free (the exam's view): every push on its own route, reduced in rank order, then
    # the update (a scale and a subtract), then every pull on its own route.
    push = max(pair_time(x, w, server, p * s) for w in workers)
    pull = max(pair_time(x, server, w, p * s) for w in workers)
    arrivals = (pair_time(x, w, server, p * s) if w in workers else 0.0 for w in range(n))
    free = (_in_order(arrivals, c) if c else push) + 2 * c + pull
    models = {}
    if x.topology == "switch" and (x.server == "dedicated" or not c):
        # The server's one link serialises the pushes in and the pulls out (Li et al. 2014, section 2);
        # as flows they share it and end together, then the reductions follow one another.
        last = (remote - 1) * t + push
        pushed = _gamma_chain(last, 0.0, c, remote) if x.network == FLOW else _gamma_chain(push, t, c, remote)
        models["server link bottleneck"] = Formula(
            pushed + 2 * c + (remote - 1) * t + pull,
            "2 alpha + 2 n p s/beta (the server's link carries n p each way)" + (" + reductions" if c else ""),
            f"{LI}; {HOCKNEY}",
        )
    pushes = {(w, server): p * s for w in workers}
    pulls = {(server, w): p * s for w in workers}
    return Expectation(
        messages=Formula(2 * remote, "2n" if remote == n else "2(n-1) (server on a worker)", EXAM),
        message_bytes=Formula({p * s: 2 * remote}, "2n messages of p s", EXAM),
        total_bytes=Formula(2 * remote * p * s, "2 n p s", EXAM),
        makespan=Formula(free, "2(alpha + p s/beta)" + (" + (n+2) p/F" if c else ""), f"{EXAM}; {HOCKNEY}"),
        models=models,
        traffic=Formula([pushes, pulls], "p s from each worker to the server, then back (the server needs every push first)", f"{EXAM}; {LI}"),
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
