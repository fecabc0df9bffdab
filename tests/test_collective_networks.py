"""Collectives beyond one switch: every topology and network model reconciles (never beating a bound, any
excess explained), and on a two-tier, rail-optimised cluster hierarchical all-reduce runs at exactly the
time the closed form and the tuner give it."""

from __future__ import annotations

import numpy as np
import pytest

import distsim
from collective_run import routes_of
from distsim import collectives
from distsim.analysis import Inputs, reconcile
from distsim.analysis.collectives import CollectiveCall
from distsim.collectives import OPS, Tier, Tiers, algorithms_for, refusal, size_refusal
from distsim.collectives.tuner import choose, estimate
from distsim.engine import Device, World
from distsim.hardware import build_topology


@pytest.mark.parametrize("model", ["cut_through", "store_and_forward", "flow"])
@pytest.mark.parametrize("topology", ["switch", "ring", "fully_connected"])
def test_every_collective_reconciles_on_every_topology_and_network_model(topology, model):
    n, p = 5, 5 * 400
    for op in OPS:
        for algorithm in algorithms_for(op):
            if refusal(op, algorithm, n) or size_refusal(op, n, p):
                continue
            yaml = (f"cluster:\n  workers: {n}\n  network: {{topology: {topology}, bandwidth: 100 Gbit/s, latency: 5 us, "
                    f"model: {model}}}\nmodel: {{params: {p}}}\nstrategy: {{kind: collective, op: {op}, algorithm: {algorithm}}}\n")
            (outcome,) = distsim.run(*distsim.loads(yaml))
            assert outcome.ok and outcome.result.verified, (op, algorithm, [(c.name, c.status) for c in outcome.reconciliation.checks])


NODES, PER_NODE = 3, 4
INTRA, INTER = Tier(2 * 0.5e-6, 200e9), Tier(2 * 2.5e-6, 25e9)  # two hops each: GPU - switch - GPU


def rail_cluster() -> tuple[World, tuple]:
    """Each GPU on its node's switch (fast) and on the switch of its rail (slow): NCCL's rail-optimised layout."""
    names = [f"w{i}" for i in range(NODES * PER_NODE)]
    edges = []
    for rank in range(len(names)):
        edges.append((f"w{rank}", f"node{rank // PER_NODE}", INTRA.bandwidth, INTRA.latency / 2))
        edges.append((f"w{rank}", f"rail{rank % PER_NODE}", INTER.bandwidth, INTER.latency / 2))
    world = World(build_topology("graph", names, 1e9, 1e-6, edges), names, list(range(len(names))), Device(1e15, 1e15), 4)
    nodes = tuple(tuple(range(u * PER_NODE, (u + 1) * PER_NODE)) for u in range(NODES))
    return world, nodes


def test_hierarchical_on_a_two_tier_rail_cluster_matches_closed_form_and_tuner():
    world, nodes = rail_cluster()
    n, p = NODES * PER_NODE, NODES * PER_NODE * 1000
    data = [np.random.default_rng(rank).standard_normal(p) for rank in range(n)]

    def program(rank):
        return (yield from collectives.all_reduce(world.contexts[rank], tuple(range(n)), data[rank],
                                                  algorithm="hierarchical", nodes=nodes))

    for rank in range(n):
        world.spawn(rank, program(rank))
    results = world.run()
    assert all(np.allclose(results[rank], sum(data)) for rank in range(n))
    call = CollectiveCall("all_reduce", "hierarchical", tuple(range(n)), p, 4, nodes=nodes)
    rec = reconcile(world.trace, Inputs("collective", n, p, 4, 1e9, 1e-6, "graph", 1e15, collective=call,
                                        platform=routes_of(world)))
    checks = {c.name: c for c in rec.checks}
    assert rec.ok and checks["makespan (contention-free alpha-beta)"].status == "ok"
    tiers = Tiers(INTRA, INTER, nodes)
    predicted = estimate("all_reduce", "hierarchical", p * 4, tuple(range(n)), tiers).seconds
    assert predicted == pytest.approx(world.trace.makespan, rel=1e-9)
    # only p s / G crosses the slow rails: hierarchical is what auto takes for a large tensor
    assert choose("all_reduce", 1e9, tuple(range(n)), tiers).algorithm == "hierarchical"


def test_two_channels_on_a_physical_ring_use_both_directions_and_halve_the_bytes_term():
    """On one NIC a second channel changes nothing; on a ring of cables the opposite channel uses the other
    direction of every cable: 2(n-1)(alpha + p s/(2 n beta)), and the closed form says so exactly."""
    def makespan(topology: str, algorithm: str) -> float:
        yaml = (f"cluster:\n  workers: 8\n  network: {{topology: {topology}, bandwidth: 100 Gbit/s, latency: 5 us}}\n"
                f"model: {{params: 8000000}}\nstrategy: {{kind: collective, op: all_reduce, algorithm: {algorithm}, "
                f"channels: 2}}\nrun: {{verify_payload: false}}\n")
        (outcome,) = distsim.run(*distsim.loads(yaml))
        assert {c.name: c.status for c in outcome.reconciliation.checks}["makespan (contention-free alpha-beta)"] == "ok"
        return outcome.trace.makespan

    alpha, t = 5e-6, 8e6 * 4 / 8 / 12.5e9
    assert makespan("switch", "multi_ring") == pytest.approx(makespan("switch", "ring"), rel=1e-12)
    assert makespan("ring", "ring") == pytest.approx(14 * (alpha + t), rel=1e-12)
    assert makespan("ring", "multi_ring") == pytest.approx(14 * (alpha + t / 2), rel=1e-12)
