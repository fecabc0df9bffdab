"""Op counts of every schedule, read from the simulated trace, against formulas written here.

The expected values are written in this file from the sources (exam.md, Chen et
al. 2016, PyTorch's checkpoint_sequential, Revolve), independently of both the
strategies and distsim.analysis; the optimal schedule is checked against a
brute-force search over all checkpoint placements. Every run is also reconciled
by the analyzer, so its closed forms are checked on the same grid.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

import distsim
from distsim.remat.run import analyze_rematerialization, run_rematerialization
from distsim.strategies import get

MAX_LAYERS = 40


def chain_scenario(layers: int, extra: str = ""):
    text = (
        "cluster: {workers: 1, memory: {load_latency: 10 ns}, disk: {load_latency: 50 ns}}\n"
        f"model: {{layers: {layers}, layer: {{fwd_time: 20 ns, bwd_time: 7 ns, activation: 1 kB}}}}\n"
        f"strategy: {{kind: store_all{extra}}}\nrun: {{verify_payload: false}}\n"
    )
    return distsim.loads(text, f"<L={layers}>")[0]


SCENARIOS = {}


def counts(name: str, layers: int, **params) -> dict:
    """Simulate one schedule and reconcile it; the simulated counts (every check must hold)."""
    scenario = SCENARIOS.get(layers) or SCENARIOS.setdefault(layers, chain_scenario(layers))
    cls = get(name)
    strategy = cls(cls.Params(**params))
    result = run_rematerialization(scenario, strategy, verify=False)
    rec = analyze_rematerialization(result, scenario, strategy)
    assert rec.ok, [(c.name, c.expected, c.simulated) for c in rec.checks if not c.ok]
    return rec.simulated


def grid():
    return [(L, k) for L in range(1, MAX_LAYERS + 1) for k in range(1, L + 1)]


@pytest.mark.parametrize("L", range(1, MAX_LAYERS + 1))
def test_checkpoint_every_k_matches_the_exam_formulas_for_every_k(L):
    for k in range(1, L + 1):
        sim = counts("checkpoint_every_k", L, k=k)
        assert sim["fwd_ops"] == sum(i % k for i in range(1, L + 1)), (L, k)
        assert sim["loadmem_ops"] == L
        assert sim["stored_activations"] == L // k + 1
        assert sim["bwd_ops"] == L and sim["forward_pass_ops"] == L and sim["loaddisk_ops"] == 0


@pytest.mark.parametrize("L", range(1, MAX_LAYERS + 1))
def test_segment_recompute_reruns_each_non_checkpoint_once(L):
    for k in range(1, L + 1):
        sim = counts("segment_recompute", L, k=k)
        assert sim["fwd_ops"] == L - L // k  # Chen et al.: every activation but the checkpoints, once
        assert sim["loadmem_ops"] == len({i // k for i in range(1, L + 1)})  # one load per segment with a layer
        assert sim["stored_activations"] == L // k + 1


@pytest.mark.parametrize("L", range(1, MAX_LAYERS + 1))
def test_checkpoint_sequential_reruns_all_chunks_but_the_last(L):
    for n in range(1, L + 1):
        sim = counts("checkpoint_sequential", L, segments=n)
        size = L // n  # torch: segment_size = len(functions) // segments
        checkpointed = list(range(0, size * (n - 1), size))  # torch's loop over chunk starts
        assert sim["fwd_ops"] == len(checkpointed) * size
        assert sim["loadmem_ops"] == (L - size * (n - 1)) + len(checkpointed)


@pytest.mark.parametrize("L", range(1, MAX_LAYERS + 1))
def test_store_all_and_disk_offload_never_recompute(L):
    mem = counts("store_all", L)
    disk = counts("disk_offload", L)
    assert (mem["fwd_ops"], mem["loadmem_ops"], mem["loaddisk_ops"], mem["stored_activations"]) == (0, L, 0, L + 1)
    assert (disk["fwd_ops"], disk["loadmem_ops"], disk["loaddisk_ops"], disk["storedisk_ops"]) == (0, 0, L, L)


@lru_cache(maxsize=None)
def least_reruns(n: int, free: int) -> int:
    """Brute force: the fewest forward steps to run the backward steps of n states a_b..a_{b+n-1},
    with a_b stored and ``free`` more slots, trying every placement of the next checkpoint."""
    if n == 1:
        return 0
    without = n * (n - 1) // 2  # no more checkpoints: rerun from a_b for every state
    if free == 0:
        return without
    return min([without] + [m + least_reruns(n - m, free - 1) + least_reruns(m, free) for m in range(1, n)])


@pytest.mark.parametrize("L", range(1, MAX_LAYERS + 1))
def test_optimal_recomputes_the_least_any_placement_allows(L):
    for slots in range(1, min(L + 2, 8)):
        sim = counts("optimal", L, slots=slots)
        # States a_0..a_L; the forward pass is the first sweep of L steps, so the backward pass reruns the rest.
        assert sim["fwd_ops"] == least_reruns(L + 1, slots - 1) - L, (L, slots)
        assert sim["checkpoints_held_max"] <= slots
        assert sim["loadmem_ops"] == L - 1  # bwd L runs on the a_L the forward pass leaves at hand


def test_optimal_with_every_slot_recomputes_nothing():
    sim = counts("optimal", 12, slots=13)
    assert sim["fwd_ops"] == 0 and sim["peak_activation_bytes"] <= 15 * 1000


@pytest.mark.parametrize("name", ["store_all", "checkpoint_every_k", "segment_recompute", "checkpoint_sequential", "disk_offload", "optimal"])
def test_input_load_adds_at_most_one_loadmem(name):
    for L in (1, 2, 7, 12):
        for value in {1, max(1, L // 3), L}:
            param = {"checkpoint_every_k": "k", "segment_recompute": "k", "checkpoint_sequential": "segments", "optimal": "slots"}.get(name)
            params = {param: value} if param else {}
            plain = counts(name, L, **params)["loadmem_ops"]
            loaded = counts(name, L, input_load=True, **params)["loadmem_ops"]
            assert loaded - plain in (0, 1)


def test_the_optimal_planner_for_1000_layers_and_30_slots_reaches_revolves_bound():
    from math import comb

    from distsim.remat.chain import Chain
    from distsim.strategies.optimal import Optimal

    L, s = 1000, 30
    schedule = Optimal(Optimal.Params(slots=s)).schedule(Chain.of(chain_scenario(L)))
    r = next(r for r in range(1, 100) if comb(s + r, s) >= L + 1)  # Griewank & Walther's repetition number
    assert sum(op.kind == "fwd" for op in schedule.backward) == r * (L + 1) - comb(s + r, s + 1) - L
