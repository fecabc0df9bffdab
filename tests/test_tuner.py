"""The cost model behind ``algorithm: auto``: pinned numbers, agreement with the analyzer's closed forms,
and auto choosing what the model ranks first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distsim.analysis import Inputs
from distsim.analysis.collectives import CollectiveCall, pattern
from distsim.collectives import Tiers, Tier, Tuning, algorithms_for
from distsim.collectives.catalog import refusal
from distsim.collectives.tuner import FORMULAS, choose, crossovers, estimate, ranking

ALPHA, BETA = 5e-6, 12.5e9
FLAT8 = Tiers.flat(8, ALPHA, BETA)
GROUP8 = tuple(range(8))


@pytest.mark.parametrize("op, algorithm, expected", [
    # n = 8, m = 1 MB: written out from each formula in docs/collectives.md
    ("all_reduce", "ring", 14 * ALPHA + 14 / 8 * 1e6 / BETA),
    ("all_reduce", "tree", 6 * ALPHA + 10 * 1e6 / BETA),  # depth 3: 2(3 alpha + 5 m/beta)
    ("all_reduce", "double_binary_tree", 6 * ALPHA + 5 * 1e6 / BETA),
    ("all_reduce", "halving_doubling", 6 * ALPHA + 14 / 8 * 1e6 / BETA),
    ("all_reduce", "recursive_doubling", 3 * ALPHA + 3 * 1e6 / BETA),
    ("all_reduce", "parameter_server", 2 * ALPHA + 14 * 1e6 / BETA),
    ("all_reduce", "hierarchical", 14 * ALPHA + 14 / 8 * 1e6 / BETA),  # one rank per node: the inter-node ring
    ("reduce_scatter", "ring", 7 * ALPHA + 7 / 8 * 1e6 / BETA),
    ("all_gather", "bruck", 3 * ALPHA + 7 / 8 * 1e6 / BETA),
    ("broadcast", "ring", 7 * ALPHA + 14 / 8 * 1e6 / BETA),
    ("broadcast", "tree", 3 * ALPHA + 5 * 1e6 / BETA),
    ("all_to_all", "pairwise", 7 * ALPHA + 7 / 8 * 1e6 / BETA),
    ("all_to_all", "bruck", 3 * ALPHA + 12 / 8 * 1e6 / BETA),  # 12 block moves: popcounts of 0..7
])
def test_pinned_predictions(op, algorithm, expected):
    assert estimate(op, algorithm, 1e6, GROUP8, FLAT8).seconds == pytest.approx(expected, rel=1e-15)


def test_efficiency_and_base_latency_follow_nccls_shape():
    """NCCL: time = base latency + steps x hop latency + bytes / (bus bandwidth x efficiency)."""
    tuning = Tuning(efficiency={"tree": 0.92}, base_latency={"tree": 6.8e-6})
    got = estimate("all_reduce", "tree", 1e6, GROUP8, FLAT8, tuning)
    assert got.latency_s == pytest.approx(6.8e-6 + 6 * ALPHA, rel=1e-15)
    assert got.bandwidth_s == pytest.approx(10 * 1e6 / BETA / 0.92, rel=1e-15)


def test_hierarchical_charges_each_tier_its_own_steps_and_flat_algorithms_the_slower_tier():
    intra, inter = Tier(0.6e-6, 450e9), Tier(5e-6, 50e9)
    nodes = tuple(tuple(range(u * 8, u * 8 + 8)) for u in range(4))
    tiers, group, m = Tiers(intra, inter, nodes), tuple(range(32)), 1e9
    hier = estimate("all_reduce", "hierarchical", m, group, tiers)
    assert hier.latency_s == pytest.approx(2 * 7 * 0.6e-6 + 2 * 3 * 5e-6, rel=1e-15)
    assert hier.bandwidth_s == pytest.approx(2 * 7 / 8 * m / 450e9 + 2 * 3 / 32 * m / 50e9, rel=1e-15)
    ring = estimate("all_reduce", "ring", m, group, tiers)
    assert ring.seconds == pytest.approx(62 * 5e-6 + 62 / 32 * m / 50e9, rel=1e-15)
    one_node = estimate("all_reduce", "ring", m, tuple(range(8)), tiers)
    assert one_node.seconds == pytest.approx(14 * 0.6e-6 + 14 / 8 * m / 450e9, rel=1e-15)
    assert choose("all_reduce", m, group, tiers).algorithm == "hierarchical"


@pytest.mark.parametrize("op, algorithm", sorted(FORMULAS))
@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_the_tuner_agrees_with_the_analyzers_closed_forms_on_a_switch(op, algorithm, n):
    """Two derivations, one in the tuner and one in the analyzer, of the same alpha-beta time: equal for
    powers of two and equal chunks (where the tuner's smooth formulas are exact)."""
    p = 720720 * 16
    call = CollectiveCall(op, algorithm, tuple(range(n)), p, 4)
    exact = pattern(call, Inputs("collective", n, p, 4, BETA, ALPHA, "switch", 1e15)).seconds
    predicted = estimate(op, algorithm, p * 4, tuple(range(n)), Tiers.flat(n, ALPHA, BETA)).seconds
    assert predicted == pytest.approx(exact, rel=1e-12)


def test_auto_picks_latency_bound_algorithms_small_and_bandwidth_optimal_ones_large():
    small = ranking("all_reduce", 64, GROUP8, FLAT8)
    large = ranking("all_reduce", 1e9, GROUP8, FLAT8)
    assert small[0].algorithm == "parameter_server"  # 2 alpha: one push and one pull
    assert large[0].algorithm == "halving_doubling"  # bandwidth-optimal in 2 log2 n steps
    assert [e.seconds for e in small] == sorted(e.seconds for e in small)
    assert choose("all_to_all", 64, GROUP8, FLAT8).algorithm == "bruck"
    assert choose("all_to_all", 1e9, GROUP8, FLAT8).algorithm == "pairwise"


def test_candidates_restrict_the_choice_and_refused_algorithms_are_never_ranked():
    tuning = Tuning(candidates=("ring", "tree"))
    assert {e.algorithm for e in ranking("all_reduce", 1e6, GROUP8, FLAT8, tuning)} == {"ring", "tree"}
    six = tuple(range(6))
    names = {e.algorithm for e in ranking("all_gather", 1e6, six, Tiers.flat(6, ALPHA, BETA))}
    assert "recursive_doubling" not in names and names == {"ring", "multi_ring", "bruck"}


def test_crossovers_are_where_the_choice_changes():
    found = crossovers("all_reduce", GROUP8, FLAT8, Tuning(candidates=("ring", "tree")), 1.0, 1e10)
    assert [(a, b) for _, a, b in found] == [("tree", "ring")]
    at = found[0][0]
    # alpha-beta: tree 6 alpha + 10 m/beta = ring 14 alpha + 1.75 m/beta  =>  m = 8 alpha beta / 8.25
    assert at == pytest.approx(8 * ALPHA * BETA / 8.25, rel=1e-8)
    tuning = Tuning(candidates=("ring", "tree"))
    assert choose("all_reduce", at * 0.99, GROUP8, FLAT8, tuning).algorithm == "tree"
    assert choose("all_reduce", at * 1.01, GROUP8, FLAT8, tuning).algorithm == "ring"


@given(op=st.sampled_from(sorted({op for op, _ in FORMULAS})), n=st.integers(2, 40),
       nbytes=st.floats(1.0, 1e11), servers=st.integers(1, 4))
def test_auto_takes_the_cheapest_runnable_candidate(op, n, nbytes, servers):
    tuning = Tuning(servers=servers)
    tiers, group = Tiers.flat(n, ALPHA, BETA), tuple(range(n))
    best = choose(op, nbytes, group, tiers, tuning)
    runnable = [a for a in algorithms_for(op) if refusal(op, a, n, channels=2, servers=servers) is None]
    assert best.algorithm in runnable
    assert best.seconds == min(estimate(op, a, nbytes, group, tiers, tuning).seconds for a in runnable)
