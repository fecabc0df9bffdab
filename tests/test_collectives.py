"""Every collective of the library, with every algorithm: exact results on every rank, and counts, sizes,
bytes, traffic per pair and time equal to the analyzer's closed forms, measured from the traces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collective_run import ALPHA, BETA, S, assert_exact_results, run_collective, runnable, switch_world
from distsim import collectives
from distsim.collectives import CollectiveError, Tiers, algorithms_for
from distsim.collectives.tuner import choose

CASES = [(op, algorithm) for op in collectives.OPS for algorithm in algorithms_for(op)]
SIZES = [2, 3, 4, 5, 6, 7, 8, 12, 16]
COUNTS = ("messages", "message sizes", "total bytes", "traffic per pair")
MAKESPAN = "makespan (contention-free alpha-beta)"


def exact_time(ran) -> bool:
    check = ran.checks[MAKESPAN]
    return check.status == "ok" and abs(check.simulated - check.expected) <= 1e-9 * check.expected


def waited(ran) -> float:
    m = ran.world.trace.messages
    return float(np.sum(m["t_start"] - m["t_send"]))


def contended_by_design(op: str, algorithm: str, n: int) -> bool:
    """Where two messages can meet at a rank's port outside the algorithm's own schedule (docs/collectives.md)."""
    folded = n & (n - 1) != 0
    return (op, algorithm) == ("all_reduce", "recursive_doubling") and folded


@pytest.mark.parametrize("op, algorithm", CASES)
@pytest.mark.parametrize("n", SIZES)
def test_results_counts_traffic_and_time_match_the_closed_forms(op, algorithm, n):
    group = tuple(range(n))
    ran_any = False
    for params in (n * 360, n * 7 + 3):  # equal chunks; uneven chunks where the collective allows them
        if not runnable(op, algorithm, n, params):
            continue
        ran_any = True
        ran = run_collective(op, algorithm, group, params)
        assert_exact_results(ran, op, group)
        assert all(ran.checks[name].ok for name in COUNTS), [(c.name, c.expected, c.simulated) for c in ran.checks.values()]
        if contended_by_design(op, algorithm, n):
            assert ran.checks[MAKESPAN].status in ("ok", "explained")
        else:
            assert exact_time(ran), ran.checks[MAKESPAN]
    assert ran_any or collectives.refusal(op, algorithm, n)


@pytest.mark.parametrize("op, algorithm", CASES)
def test_a_permuted_subgroup_of_a_larger_world(op, algorithm):
    group = (9, 2, 7, 4) if not runnable(op, algorithm, 5, 20) else (9, 2, 7, 4, 0)
    ran = run_collective(op, algorithm, group, len(group) * 48, world_size=11)
    assert_exact_results(ran, op, group)
    assert ran.reconciliation.ok and all(ran.checks[name].status == "ok" for name in (*COUNTS, MAKESPAN))
    busy = set(ran.world.trace.messages["src"].tolist()) | set(ran.world.trace.messages["dst"].tolist())
    assert busy <= set(group)  # ranks outside the group send and receive nothing


@pytest.mark.parametrize("op, algorithm", [("broadcast", "ring"), ("broadcast", "tree"), ("reduce", "ring"), ("reduce", "tree")])
@pytest.mark.parametrize("root", [0, 2, 6])
def test_rooted_collectives_from_any_root(op, algorithm, root):
    group = (3, 0, 6, 1, 5, 2, 4)
    ran = run_collective(op, algorithm, group, 91, root=root)
    assert_exact_results(ran, op, group, root)
    assert ran.reconciliation.ok and exact_time(ran)


@pytest.mark.parametrize("channels", [1, 2, 3, 5])
@pytest.mark.parametrize("op", ["all_reduce", "reduce_scatter", "all_gather"])
def test_multi_ring_with_any_number_of_channels(op, channels):
    n = 6
    ran = run_collective(op, "multi_ring", tuple(range(n)), n * 101, channels=channels)
    assert_exact_results(ran, op, tuple(range(n)))
    assert ran.checks["messages"].simulated == (2 if op == "all_reduce" else 1) * n * (n - 1) * channels
    assert ran.reconciliation.ok and exact_time(ran)


@pytest.mark.parametrize("n", [2, 5, 8])
def test_parameter_server_time_is_exact_for_any_number_of_servers(n):
    """k servers: 2 alpha + 2(n-1) p s/(k beta): each server's port takes n-1 pushes in and sends n-1 results out."""
    p = 840
    for k in range(1, n + 1):
        ran = run_collective("all_reduce", "parameter_server", tuple(range(n)), p, servers=k)
        assert_exact_results(ran, "all_reduce", tuple(range(n)))
        assert ran.checks["messages"].simulated == 2 * k * (n - 1)
        assert ran.checks[MAKESPAN].expected == pytest.approx(2 * ALPHA + 2 * (n - 1) * (p / k) * S / BETA, rel=1e-12)
        assert exact_time(ran)


@pytest.mark.parametrize("nodes, per_node", [(1, 4), (2, 3), (3, 2), (4, 4), (5, 1)])
def test_hierarchical_on_nodes_of_several_ranks(nodes, per_node):
    boxes = tuple(tuple(range(u * per_node, (u + 1) * per_node)) for u in range(nodes))
    n = nodes * per_node
    for params in (n * 60, n * 7 + 5):
        ran = run_collective("all_reduce", "hierarchical", tuple(range(n)), params, nodes=boxes)
        assert_exact_results(ran, "all_reduce", tuple(range(n)))
        g, big_n = per_node, nodes
        assert ran.checks["messages"].simulated == 2 * big_n * g * (g - 1) + 2 * g * big_n * (big_n - 1)
        assert ran.reconciliation.ok and exact_time(ran)


def test_hierarchical_on_a_subgroup_uses_the_groups_ranks_on_each_node():
    boxes = ((0, 1, 2), (3, 4, 5), (6, 7, 8))
    group = (1, 2, 4, 5, 7, 8)  # two of each node's three
    ran = run_collective("all_reduce", "hierarchical", group, 66, nodes=boxes)
    assert_exact_results(ran, "all_reduce", group)
    assert ran.reconciliation.ok and exact_time(ran)


def test_double_binary_tree_trees_can_meet_at_a_port_and_the_trace_says_where():
    """At n = 16 with large messages one tree's broadcast reaches a rank while the other's does:
    slower than the two trees alone, and explained by the waits (phantom tensors: no data needed)."""
    ran = run_collective("all_reduce", "double_binary_tree", tuple(range(16)), 16 * 100_000, payloads=False)
    assert ran.checks[MAKESPAN].status == "explained" and waited(ran) > 0
    assert any("contention" in note for note in ran.reconciliation.notes)
    small = run_collective("all_reduce", "double_binary_tree", tuple(range(16)), 16 * 100)
    assert exact_time(small)


@pytest.mark.parametrize("op, algorithm", CASES)
def test_phantoms_send_exactly_what_payloads_send(op, algorithm):
    n = 6 if runnable(op, algorithm, 6, 60) else 8
    real = run_collective(op, algorithm, tuple(range(n)), n * 10).world.trace.messages
    phantom = run_collective(op, algorithm, tuple(range(n)), n * 10, payloads=False).world.trace.messages
    for column in ("src", "dst", "nbytes", "t_send", "t_start", "t_arrive"):
        assert np.array_equal(real[column], phantom[column])


def test_collectives_compose_in_sequence_on_overlapping_groups():
    """A rank program calls three collectives one after another; per-pair FIFO keeps them matched."""
    world = switch_world(6)
    rng = np.random.default_rng(3)
    data = [rng.standard_normal(12) for _ in range(6)]
    odd, low = (1, 3, 5), (0, 1, 2)

    def program(rank):
        ctx = world.contexts[rank]
        total = yield from collectives.all_reduce(ctx, tuple(range(6)), data[rank], algorithm="tree", phase="first")
        shard = None
        if rank in odd:
            shard = yield from collectives.reduce_scatter(ctx, odd, total * rank, algorithm="ring", phase="second")
        if rank in low:
            total = yield from collectives.broadcast(ctx, low, total + rank, algorithm="ring", root=2, phase="third")
        return total, shard

    for rank in range(6):
        world.spawn(rank, program(rank))
    results = world.run()
    everything = sum(data)
    for rank in range(6):
        total, shard = results[rank]
        assert np.allclose(total, everything + 2 if rank in low else everything)
        if rank in odd:
            assert np.allclose(shard, np.split(everything * 9, 3)[odd.index(rank)])
    assert {"first:tree_reduce", "second:reduce_scatter", "third:broadcast"} <= set(world.trace.phases)


def call_once(group, **kwargs):
    world = switch_world(8)

    def program(rank):
        return (yield from collectives.all_reduce(world.contexts[rank], group, np.ones(12), **kwargs))

    world.spawn(0, program(0))
    world.run()


@pytest.mark.parametrize("group, kwargs, message", [
    ((1, 2), {}, "does not contain it"),
    ((0, 1, 1), {}, "names a rank twice"),
    ((0, 1), {"algorithm": "bruck"}, "bruck does not implement all_reduce"),
    ((0, 1), {"algorithm": "fast"}, "unknown algorithm 'fast'"),
    ((0, 1), {"algorithm": "auto"}, "needs a tiers"),
    ((0, 1, 2), {"algorithm": "parameter_server", "servers": 4}, "between 1 and 3 servers"),
    ((0, 1, 2, 3), {"algorithm": "hierarchical", "nodes": ((0, 1, 2), (3,))}, "same number of the group's ranks"),
])
def test_a_collective_that_cannot_run_says_why(group, kwargs, message):
    with pytest.raises(CollectiveError, match=message):
        call_once(group, **kwargs)


def test_sizes_that_do_not_split_into_equal_blocks_are_refused():
    world = switch_world(3)

    def program(rank):
        return (yield from collectives.reduce_scatter(world.contexts[rank], (0, 1, 2), np.ones(10)))

    world.spawn(0, program(0))
    with pytest.raises(CollectiveError, match="10 elements must be divisible by 3"):
        world.run()
    assert "needs a power-of-two number of ranks, got 6" in collectives.refusal("all_gather", "recursive_doubling", 6)


def test_auto_runs_what_the_tuner_ranks_first():
    tiers, group = Tiers.flat(8, ALPHA, BETA), tuple(range(8))
    picked = []
    for params in (8, 8 * 10**6):
        chosen = choose("all_reduce", params * S, group, tiers).algorithm
        auto = run_collective("all_reduce", "auto", group, params, payloads=False, tiers=tiers)
        direct = run_collective("all_reduce", chosen, group, params, payloads=False)
        assert auto.world.trace.phases == direct.world.trace.phases
        assert auto.world.trace.makespan == direct.world.trace.makespan
        picked.append(chosen)
    assert picked[0] != picked[1]  # latency-bound and bandwidth-bound sizes want different algorithms


@given(case=st.sampled_from(CASES), n=st.integers(2, 11), per_block=st.integers(1, 40), data=st.data())
def test_any_subgroup_any_size(case, n, per_block, data):
    """Property: for any group (a permutation of some ranks of a larger world) and any size, every rank
    ends with the exact result and every count and byte matches; the time never beats the closed form."""
    op, algorithm = case
    params = n * per_block + (data.draw(st.integers(0, n - 1)) if op in ("all_reduce", "broadcast", "reduce") else 0)
    if not runnable(op, algorithm, n, params):
        return
    group = tuple(data.draw(st.permutations(range(n + 3)))[:n])
    ran = run_collective(op, algorithm, group, params, world_size=n + 3)
    assert_exact_results(ran, op, group)
    assert all(ran.checks[name].ok for name in COUNTS)
    assert ran.checks[MAKESPAN].status in ("ok", "explained")


def test_the_catalog_the_dispatcher_the_tuner_and_the_analyzer_cover_the_same_pairs():
    from distsim.analysis.collectives import FORMS
    from distsim.collectives.ops import TABLE
    from distsim.collectives.tuner import FORMULAS

    assert set(CASES) == set(TABLE) == set(FORMULAS) == set(FORMS)
