"""Time against message size for every algorithm of a collective, on a scenario's cluster.

The curves are the tuner's predictions (``collectives/tuner.py``, the model behind
``algorithm: auto``); the crossovers are where its cheapest algorithm changes. With
``simulate``, each algorithm also runs at each size on the simulated cluster
(phantom tensors, so sizes cost nothing), and those measured times are kept beside
the predictions: where they part, the model leaves something out (contention, or a
tree's uneven depth), and the plot shows it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from distsim.collectives import algorithms_for, refusal, size_refusal
from distsim.collectives.catalog import node_boxes
from distsim.collectives.tuner import Tuning, crossovers, estimate
from distsim.runner import layout, nodes_and_tiers, run_communication
from distsim.scenario import Locations, Scenario
from distsim.strategies.collective import Collective, CollectiveParams


@dataclass
class Curves:
    """Predicted (and optionally simulated) seconds per algorithm at each buffer size."""

    op: str
    workers: int
    sizes: list[int]  # bytes, as the collective's buffer (NCCL's count x bytes per element)
    predicted: dict[str, list[float]]
    cheapest: list[str]
    crossovers: list[tuple[float, str, str]]  # (bytes, cheaper below, cheaper above)
    simulated: dict[str, list[float]] = field(default_factory=dict)


def size_grid(low: float, high: float, points: int, scenario: Scenario, op: str) -> list[int]:
    """Log-spaced buffer sizes in bytes, each a whole number of elements that ``op`` can split over the workers."""
    s, n = scenario.model.bytes_per_param, scenario.cluster.workers
    step = n if size_refusal(op, n, 1) else 1  # ops of equal blocks need a multiple of n elements
    sizes = []
    for k in range(points):
        wanted = low * (high / low) ** (k / max(points - 1, 1))
        elements = max(step, round(wanted / s / step) * step)
        sizes.append(elements * s)
    return sorted(set(sizes))


def tuning_of(scenario: Scenario, op: str) -> Tuning:
    """The scenario's own tuning knobs when its first collective strategy runs this op, else the defaults."""
    for spec in scenario.strategy:
        if spec.kind == Collective.name:
            params = CollectiveParams.model_validate(spec.params)
            if params.op == op:
                return Collective(params).tuning
    return Tuning()


def collective_curves(scenario: Scenario, op: str, sizes: list[int], simulate: bool = False,
                      progress: Callable[[str], None] | None = None) -> Curves:
    n = scenario.cluster.workers
    group = tuple(range(n))
    tuning = tuning_of(scenario, op)
    nodes, tiers = nodes_and_tiers(scenario, layout(scenario, Collective(CollectiveParams(op=op)), Locations("<curves>")))
    boxes = tuple(len(box) for box in node_boxes(group, nodes))
    names = [a for a in (tuning.candidates or algorithms_for(op))
             if not refusal(op, a, n, channels=tuning.channels, servers=tuning.servers, box_sizes=boxes)]
    predicted = {a: [estimate(op, a, m, group, tiers, tuning).seconds for m in sizes] for a in names}
    cheapest = [min(names, key=lambda a, k=k: predicted[a][k]) for k in range(len(sizes))]
    among = replace(tuning, candidates=tuple(names))
    curves = Curves(op, n, sizes, predicted, cheapest, crossovers(op, group, tiers, among, min(sizes), max(sizes)))
    if simulate:
        for a in names:
            if progress:
                progress(f"simulating {op} by {a} at {len(sizes)} sizes ...")
            curves.simulated[a] = [simulated_seconds(scenario, op, a, m, tuning) for m in sizes]
    return curves


def simulated_seconds(scenario: Scenario, op: str, algorithm: str, nbytes: int, tuning: Tuning) -> float:
    """The makespan of one run of ``op`` by ``algorithm`` on the scenario's cluster, sizes only."""
    s = scenario.model.bytes_per_param
    sized = scenario.model_copy(update={
        "model": scenario.model.model_copy(update={"params": math.ceil(nbytes / s)}),
        "run": scenario.run.model_copy(update={"verify_payload": False}),
    })
    params = CollectiveParams(op=op, algorithm=algorithm, channels=tuning.channels, servers=tuning.servers)
    return run_communication(sized, Collective(params), Locations("<curves>")).trace.makespan
