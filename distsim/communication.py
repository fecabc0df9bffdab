"""The communication family's hooks for the run-kind table (``distsim/kinds.py``): fits, analyze,
and the closed forms' inputs.

A gradient exchange runs on n ranks (and perhaps a server) placed on the scenario's
network (``runner.run_communication``); the analyzer gets the scenario's numbers and,
once the run has placed its ranks, the routes between them — never the trace.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from distsim.analysis import Inputs, Reconciliation, reconcile
from distsim.analysis.collectives import CollectiveCall
from distsim.analysis.platform import Platform
from distsim.errors import ScenarioError
from distsim.estimate import communication_estimate
from distsim.hardware.cluster import describe_cluster, link_figures
from distsim.runner import RunResult, layout, nodes_and_tiers
from distsim.scenario import Locations, Scenario, StrategySpec


def fits_communication(scenario: Scenario, strategy, spec: StrategySpec, where: Locations) -> list:
    """Located problems: too few workers, no gradient size, no network, ranks that cannot be placed,
    or the strategy's own parameters that this cluster cannot run."""
    problems = []
    if scenario.cluster.workers < strategy.min_workers:
        problems.append(where.problem(("cluster", "workers"), f"{spec.kind} needs at least {strategy.min_workers} workers, got {scenario.cluster.workers}"))
    if scenario.model.params is None:
        problems.append(where.problem(("model",), f"missing required key 'params' (the gradient size {spec.kind} exchanges)", at_key=True))
    if scenario.cluster.network is None and scenario.cluster.nodes is None:
        problems.append(where.problem(("cluster",), f"missing required key 'network' ({spec.kind} sends messages)", at_key=True))
    if not problems:  # the ranks must have a place on the network: names in a graph, connected endpoints
        try:
            where_ranks = layout(scenario, strategy, where)
        except ScenarioError as error:
            problems += error.problems
    if not problems and hasattr(strategy, "problems"):  # what this strategy's own parameters cannot do on this cluster
        nodes, _ = nodes_and_tiers(scenario, where_ranks)
        for path, message in strategy.problems(scenario.cluster.workers, scenario.model.params, nodes):
            at = spec.origin + path if path else ("model", "params")
            problems.append(where.problem(at, message))
    return problems


def estimate_communication(scenario: Scenario, strategy):
    """Size a gradient exchange from the closed forms' inputs without a layout (``distsim.estimate``; a
    collective's count needs the routes of a built cluster: it is sized without it); None while the
    scenario lacks what that needs (``fits`` says what)."""
    cluster = scenario.cluster
    if scenario.model.params is None or (cluster.network is None and cluster.nodes is None) \
            or cluster.workers < strategy.min_workers:
        return None
    inputs = None if hasattr(strategy, "plan") else inputs_for(scenario, strategy)
    return communication_estimate(scenario, strategy, inputs)


def analyze_communication(result: RunResult, scenario: Scenario, strategy) -> Reconciliation:
    return reconcile(result.trace, inputs_for(scenario, strategy, result))


def describe_communication(scenario: Scenario, path: Path) -> str:
    """The first line of ``distsim run`` for a gradient exchange: the cluster and the gradient."""
    model = scenario.model
    return (f"{path}: {hardware_text(scenario)}; gradient of {model.params:,} {model.dtype} parameters "
            f"({model.bytes_per_param} B each)")


def hardware_text(scenario: Scenario) -> str:
    """The cluster in words: its nodes and fabric, or a flat network's workers and links."""
    net = scenario.cluster.network
    if net is None:
        return describe_cluster(scenario.cluster)
    return (f"{scenario.cluster.workers} workers on a {net.topology} network "
            f"({net.bandwidth * 8 / 1e9:.4g} Gbit/s, {net.latency * 1e6:.4g} us per hop)")


def inputs_for(scenario: Scenario, strategy, result: RunResult | None = None) -> Inputs:
    """What the closed forms may know: the scenario's numbers, the strategy's parameters and,
    when the run's layout is known, the platform (routes between ranks) — never the trace.

    A cluster of nodes gives the one-hop figures of its fastest hop (see ``link_figures``);
    its formulas use the platform's routes.
    """
    topology, bandwidth, latency = link_figures(scenario.cluster)
    model = scenario.cluster.network_model
    params = strategy.params
    return Inputs(
        kind=strategy.name,
        workers=scenario.cluster.workers,
        params=scenario.model.params,
        bytes_per_param=scenario.model.bytes_per_param,
        bandwidth=bandwidth,
        latency=latency,
        topology=topology,
        flops=scenario.cluster.gpu.flops,
        reduce_compute=getattr(params, "reduce_compute", False),
        server=getattr(params, "server", "dedicated"),
        network=model,
        collective=_collective_call(scenario, strategy, result),
        platform=platform_of(result.layout, model) if result is not None and result.layout else None,
    )


def sweep_inputs(scenario: Scenario, strategy) -> dict:
    """What a sweep row records of a point: the closed forms' inputs (the scaling plot redraws its curves from them)."""
    inputs = asdict(inputs_for(scenario, strategy))
    inputs.pop("kind")
    inputs.pop("platform")
    return inputs


def platform_of(layout, model: str) -> Platform:
    """The closed forms' view of a layout: links, and the route between two ranks' nodes."""
    topology, placement = layout.topology, layout.placement

    def route(src: int, dst: int) -> tuple[int, ...]:
        a, b = placement[src], placement[dst]
        return () if a == b else topology.route(a, b).links

    return Platform(tuple(topology.links), route, model)


def _collective_call(scenario: Scenario, strategy, result: RunResult | None) -> CollectiveCall | None:
    """What a collective strategy runs (auto resolved as the run resolved it), for its closed forms."""
    if not hasattr(strategy, "plan"):
        return None
    where_ranks = result.layout if result is not None and result.layout else layout(scenario, strategy, Locations("<inputs>"))
    nodes, tiers = nodes_and_tiers(scenario, where_ranks)
    n, p, s = scenario.cluster.workers, scenario.model.params, scenario.model.bytes_per_param
    q = strategy.params
    algorithm = strategy.plan(tiers, n, p * s)[0].algorithm
    return CollectiveCall(q.op, algorithm, tuple(range(n)), p, s, q.root, q.channels, q.servers, nodes)
