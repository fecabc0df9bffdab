"""What a run will cost, estimated from the scenario before anything is simulated; refuse what cannot finish.

Two checks run when a scenario is loaded (``api.build_strategies``), so that
``validate``, ``run`` and ``sweep`` refuse the same inputs, each as one located
problem (exit code 2):

* **Limits** (issue 10, item 5). A run whose estimated size is beyond what this
  machine class finishes in memory and in minutes is refused up front, with the
  estimate, instead of growing for an hour and dying of MemoryError. ``--force``
  runs it anyway. The estimate is the closed-form count of what the run records
  (messages of a gradient exchange, ops of a rematerialization schedule, messages
  and ops of a training step) times what one record was measured to cost, plus
  the network's cables and any real payloads. Each run kind sizes its own runs
  (``RunKind.estimate``: here, ``remat/estimate.py``, ``training/estimate.py``).
* **Overflow** (item 6). Times derived from the inputs must be finite: a latency of
  1e308 s or a bandwidth of 5e-324 B/s makes every derived time infinite, and the
  results would print as NaN and Infinity. An upper bound of the simulated end
  time (every event one after another, each at the longest it can take) must be a
  finite double; otherwise the input that overflows is named. ``--force`` does not
  override this one: such a result cannot be written as JSON.

The constants are measurements (benchmarks/results.md, this module's tests), not
promises: they leave every bundled scenario and every benchmark (ring all-reduce up
to n = 4,096, 33.5 M messages) well inside the limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from distsim.errors import Problem
from distsim.fmt import fmt_bytes
from distsim.scenario import Locations

MAX_MESSAGES = 10**8  # three times the largest benchmark (ring all-reduce, n = 4,096: 33.5 M messages)
MAX_OPS = 5 * 10**6  # rematerialization schedule entries: about a minute
MAX_RANKS = 65_536  # routes on one switch are computed per pair: a parameter server at 16,384 workers takes ~1 min
MAX_MEMORY = 8e9  # estimated peak bytes of the run
MAX_POINTS = 10_000  # sweep points: each is built and validated (~3 ms) before the first one runs
EXACT_RANKS = 256  # above this the message count is interpolated (closed forms may be per pair of ranks)
SAMPLE_RANKS = (64, 128, 256)

BYTES_PER_MESSAGE = 120  # measured: ring all-reduce n = 1,024, 2.1 M messages, 247 MB above the interpreter
MESSAGES_PER_SECOND = 500_000  # measured at n = 1,024 (benchmarks/results.md: 530,030)
BYTES_PER_CABLE = 1_700  # measured: fully_connected n = 1,024 (523,776 cables) peaked at 864 MB
PAYLOAD_COPIES = 3  # each worker's gradient, the stacked copy the expected result is computed from, chunks in flight
PAYLOAD_ITEM_BYTES = 8  # real payloads are float64
SECONDS_PER_POINT = 0.003  # building and validating one sweep point


@dataclass(frozen=True)
class Estimate:
    """One strategy's run, sized from the scenario's numbers alone."""

    events: float | None  # messages or ops the trace will hold; None when no closed form says
    unit: str  # "messages" or "ops"
    formula: str  # how events was counted, e.g. "2n(n-1)"
    seconds_per_event: float
    memory: dict[str, float]  # what holds memory -> estimated bytes
    path: tuple  # the field that makes it large (where a refusal is located)
    ranks: int = 1
    # (field, seconds one event may take because of it): the bound on simulated times that must stay finite
    terms: tuple[tuple[tuple, float], ...] = field(default_factory=tuple)

    @property
    def bytes(self) -> float:
        return sum(self.memory.values())

    @property
    def seconds(self) -> float:
        return (self.events or 0) * self.seconds_per_event


def limit_problems(estimate: Estimate, where: Locations, kind: str) -> list[Problem]:
    """One problem, at the field that drives the size, when the run is beyond a limit; [] otherwise."""
    over = []
    limit = MAX_MESSAGES if estimate.unit == "messages" else MAX_OPS  # read now: tests may lower them
    if estimate.events is not None and estimate.events > limit:
        over.append(f"{_count(limit)} {estimate.unit}")
    if estimate.ranks > MAX_RANKS:
        over.append(f"{MAX_RANKS:,} ranks")
    if estimate.bytes > MAX_MEMORY:
        over.append(f"{fmt_bytes(MAX_MEMORY)} of memory")
    if not over:
        return []
    return [where.problem(estimate.path, f"{kind} is too large to simulate here: {describe(estimate)}; "
                                         f"{'the limit is' if len(over) == 1 else 'the limits are'} {', '.join(over)} "
                                         "(--force runs it anyway)")]


def describe(estimate: Estimate) -> str:
    """``about 1.1e12 messages (n(n-1)), 1,048,577 ranks, ~132 TB of memory (trace), ~25 days``."""
    parts = []
    if estimate.events is not None:
        parts.append(f"about {_count(estimate.events)} {estimate.unit} ({estimate.formula})")
    if estimate.ranks > 1:
        parts.append(f"{estimate.ranks:,} ranks")
    held = ", ".join(f"{what} {fmt_bytes(size)}" for what, size in estimate.memory.items() if size)
    parts.append(f"~{fmt_bytes(estimate.bytes)} of memory ({held or 'little'})")
    if estimate.events is not None:
        parts.append(f"~{duration(estimate.seconds)}")
    return ", ".join(parts)


def overflow_problems(estimate: Estimate, where: Locations) -> list[Problem]:
    """A problem at the input whose derived times overflow a double (or are not finite); [] otherwise."""
    events = max(estimate.events or 1, 1)
    bound = events * sum(seconds for _, seconds in estimate.terms)
    if math.isfinite(bound):
        return []
    path, seconds = max(estimate.terms, key=lambda term: (not math.isfinite(term[1]), term[1]))
    what = "longer than a double can hold" if not math.isfinite(seconds) else f"up to {seconds:.3g} s"
    return [where.problem(path, f"times derived from this value overflow: one {estimate.unit[:-1]} takes {what}, "
                                f"and {_count(events)} of them exceed the largest double (1.8e308 s); "
                                "use a value nearer real hardware")]


def communication_estimate(scenario, strategy, inputs) -> Estimate:
    """A gradient exchange: its closed-form message count (``analysis.expectation``), ranks, cables, payloads.

    ``inputs`` None (a collective: its count needs the routes of a built cluster) sizes
    all but the messages.
    """
    from distsim.analysis.closed_forms import expectation
    from distsim.engine import faults

    cluster, p = scenario.cluster, scenario.model.params
    n, extra = cluster.workers, faults.call(strategy.extra_ranks, "extra_ranks()")
    expected = expectation(inputs) if inputs is not None and n <= EXACT_RANKS else None
    messages = expected.messages.value if expected is not None else None
    if inputs is not None and n > EXACT_RANKS:
        expected, messages = _extrapolated(inputs, expectation)
    memory = {"trace": (messages or 0) * BYTES_PER_MESSAGE, "network": cables(cluster, extra) * BYTES_PER_CABLE,
              "payloads": _payload_bytes(scenario)}
    largest = max(memory, key=memory.get)
    path = {"trace": ("cluster", "workers"), "network": ("cluster", "network", "topology"),
            "payloads": ("run", "verify_payload") if scenario.run.verify_payload else ("model", "params")}[largest]
    terms = network_terms(cluster, p * scenario.model.bytes_per_param)
    if getattr(strategy.params, "reduce_compute", False):
        terms.append((("cluster", "gpu", "flops"), 2 * p / cluster.gpu.flops))
    formula = expected.messages.text if expected is not None else "no closed form before the cluster is built"
    return Estimate(messages, "messages", formula, 1 / MESSAGES_PER_SECOND, memory, path, ranks=n + len(extra),
                    terms=tuple(terms))


def _extrapolated(inputs, expectation) -> tuple:
    """(closed forms at a small n, message count at ``inputs.workers``) from the counts at 64, 128 and 256 ranks.

    Why not at n itself: a closed form may hold something per pair of ranks (all-to-all's
    traffic), which at a million ranks is what must not be built. The quadratic through
    three points is exact for every count of the form a n^2 + b n + c (n(n-1), 2n, 2n(n-1)).
    """
    from dataclasses import replace

    points = [(m, expectation(replace(inputs, workers=m))) for m in SAMPLE_RANKS]
    if any(form is None for _, form in points):
        return None, None
    (x0, f0), (x1, f1), (x2, f2) = ((m, form.messages.value) for m, form in points)
    x = inputs.workers
    value = (f0 * (x - x1) * (x - x2) / ((x0 - x1) * (x0 - x2)) + f1 * (x - x0) * (x - x2) / ((x1 - x0) * (x1 - x2))
             + f2 * (x - x0) * (x - x1) / ((x2 - x0) * (x2 - x1)))
    return points[-1][1], max(round(value), 0)


def cables(cluster, extra) -> int:
    """Cables of the network: one per endpoint on a switch or a ring, one per pair fully connected, the
    edges of a graph; about three per GPU in a cluster of nodes (its port, its NIC's share, the fabric)."""
    if cluster.network is None:
        return 3 * cluster.workers
    net = cluster.network
    nodes = cluster.workers + sum(1 for _, share in extra if share is None)
    return {"switch": nodes, "ring": nodes, "fully_connected": nodes * (nodes - 1) // 2}.get(net.topology, len(net.edges or ()))


def network_terms(cluster, size: float) -> list[tuple[tuple, float]]:
    """(field, seconds one message may take because of it): the whole gradient over each link figure."""
    if cluster.network is not None:
        tiers = [(("cluster", "network"), cluster.network, 1.0)]
    else:
        tiers = [(("cluster", name), getattr(cluster, name), getattr(cluster, name).efficiency)
                 for name in ("intra", "inter") if getattr(cluster, name, None) is not None]
    terms = []
    for at, tier, efficiency in tiers:
        terms += [(at + ("bandwidth",), size / (tier.bandwidth * efficiency)), (at + ("latency",), tier.latency)]
        for index, edge in enumerate(getattr(tier, "edges", None) or ()):
            terms += [(at + ("edges", index, "bandwidth"), size / edge.bandwidth)] if edge.bandwidth else []
            terms += [(at + ("edges", index, "latency"), edge.latency)] if edge.latency else []
    return terms


def _payload_bytes(scenario) -> float:
    """Real numpy gradients (verification): each worker's, a stacked copy, chunks in flight."""
    from distsim.runner import should_verify

    if not should_verify(scenario):
        return 0.0
    return PAYLOAD_COPIES * PAYLOAD_ITEM_BYTES * scenario.model.params * scenario.cluster.workers


def sweep_problem(points: int, where: Locations) -> Problem | None:
    """A problem at ``sweep:`` when a grid has more points than are built in reasonable time."""
    if points <= MAX_POINTS:
        return None
    return where.problem(("sweep",), f"the grid has {points:,} points: building and validating them alone takes "
                                     f"~{duration(points * SECONDS_PER_POINT)} before the first runs; the limit is "
                                     f"{MAX_POINTS:,} points (--force runs it anyway)", at_key=True)


def duration(seconds: float) -> str:
    """A wall-clock estimate in the largest sensible unit: '40 s', '3.2 min', '25 days', '1.2e6 years'."""
    for unit, size in (("years", 3.15e7), ("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{_count(seconds / size)} {unit}"
    return f"{seconds:.2g} s"


def _count(value: float) -> str:
    """1,234 below a million; 3.4e7 above (two digits: an estimate)."""
    return f"{value:,.0f}" if value < 1e6 else f"{value:.2g}".replace("e+0", "e").replace("e+", "e")
