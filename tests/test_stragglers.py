"""Stragglers and jitter (issue 9 item 5): every compute op times the rank's factor and a seeded sample."""

from __future__ import annotations

import numpy as np
import pytest

import distsim
from distsim.engine import Device, World
from distsim.engine.variability import BLOCK, JITTER_STREAM, slow_down
from distsim.errors import ScenarioError
from distsim.hardware import build_topology
from conftest import scenario_yaml

PEAK = 1e12
FLOPS = [1e9, 3e9, 7e8, 2e9, 5e9]


def computing(n: int, flops=FLOPS) -> World:
    names = [f"w{i}" for i in range(n)]
    w = World(build_topology("switch", names, 1e9, 0.0), names, list(range(n)), Device(PEAK, 1e12), 4)

    def program(ctx):
        for f in flops:
            yield ctx.compute("fwd", f)

    for rank in range(n):
        w.spawn(rank, program(w.contexts[rank]))
    return w


def durations(w, rank: int) -> list[float]:
    """Each op's length on ``rank``, from a World's trace or a Trace."""
    ops = getattr(w, "trace", w).ops
    mine = ops["rank"] == rank
    return (ops["t_end"][mine] - ops["t_start"][mine]).tolist()


def samples(seed: int, sigma: float, count: int) -> list[float]:
    """The jitter factors, drawn independently of the engine: one generator per run, blocks of BLOCK."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(JITTER_STREAM,)))
    return rng.lognormal(-sigma * sigma / 2, sigma, BLOCK).tolist()[:count]


def test_a_stragglers_compute_ops_take_its_factor_times_as_long():
    w = computing(3)
    slow_down(w, [1.0, 1.2, 1.0])
    w.run()
    ends = w.trace.ops["t_end"]
    assert ends[w.trace.ops["rank"] == 0].tolist() == ends[w.trace.ops["rank"] == 2].tolist() == _running(
        [f / PEAK for f in FLOPS])
    assert ends[w.trace.ops["rank"] == 1].tolist() == _running([f / PEAK * 1.2 for f in FLOPS])
    assert w.trace.makespan == _running([f / PEAK * 1.2 for f in FLOPS])[-1] == pytest.approx(1.2 * sum(FLOPS) / PEAK)


def test_jitter_multiplies_each_op_by_the_next_sample_of_the_runs_generator():
    w = computing(1)
    slow_down(w, [1.5], "lognormal", 0.1, seed=7)
    w.run()
    factors = samples(7, 0.1, len(FLOPS))
    assert w.trace.ops["t_end"].tolist() == _running([f / PEAK * (1.5 * x) for f, x in zip(FLOPS, factors)])


def test_lognormal_jitter_has_mean_one_and_uniform_jitter_stays_in_its_band():
    many = [1e9] * 4000
    w = computing(1, many)
    slow_down(w, [1.0], "lognormal", 0.2, seed=0)
    w.run()
    factors = np.array(durations(w, 0)) / 1e-3
    assert abs(factors.mean() - 1) < 4 * 0.2 / np.sqrt(len(many))  # four standard errors
    assert abs(np.log(factors).std() - 0.2) < 0.01
    w = computing(1, many)
    slow_down(w, [1.0], "uniform", 0.3, seed=0)
    w.run()
    factors = np.array(durations(w, 0)) / 1e-3
    assert 0.7 <= factors.min() and factors.max() <= 1.3 and factors.max() - factors.min() > 0.59


JITTERY = scenario_yaml("ring_allreduce", 4, 4000, extra="reduce_compute: true", seed=3).replace(
    "run: {seed: 3}", "run: {seed: 3, stragglers: {w2: 1.2}, jitter: {distribution: lognormal, sigma: 0.05}}")


def test_the_same_scenario_and_seed_give_the_same_trace_bit_for_bit():
    first, second = (distsim.run(distsim.loads(JITTERY)[0])[0].trace for _ in range(2))
    assert len(first.ops) and same(first.ops, second.ops) and same(first.messages, second.messages)
    other = distsim.run(distsim.loads(JITTERY.replace("seed: 3,", "seed: 4,"))[0])[0].trace
    assert not same(other.ops, first.ops)


def same(a, b) -> bool:
    """Two tables hold the same rows, bit for bit."""
    return len(a) == len(b) and all(a[name].tobytes() == b[name].tobytes() for name in a.dtype.names)


def test_a_scenarios_straggler_slows_only_its_own_reductions():
    plain = distsim.run(distsim.loads(scenario_yaml("ring_allreduce", 4, 4000, extra="reduce_compute: true"))[0])[0].trace
    slow = distsim.run(distsim.loads(scenario_yaml("ring_allreduce", 4, 4000, extra="reduce_compute: true").replace(
        "run: {seed: 0}", "run: {seed: 0, stragglers: {2: 1.5}}"))[0])[0].trace
    for rank in range(4):
        factor = 1.5 if rank == 2 else 1.0
        assert durations(slow, rank) == pytest.approx([d * factor for d in durations(plain, rank)], rel=1e-9)
    assert slow.makespan > plain.makespan


@pytest.mark.parametrize("run, message", [
    ("{stragglers: {w4: 1.2}}", "run.stragglers.w4: 'w4' is not a worker (workers are w0..w3, or 0..3)"),
    ("{stragglers: {slow: 1.2}}", "run.stragglers.slow: 'slow' is not a worker"),
    ("{stragglers: {w1: 1.2, 1: 1.1}}", "run.stragglers.1: worker w1 is already given as 'w1'"),
    ("{stragglers: {w1: -1}}", "run.stragglers.w1: expected a value greater than 0"),
    ("{jitter: {distribution: lognormal}}", "run.jitter.sigma: missing required key 'sigma'"),
    ("{jitter: {distribution: gaussian, sigma: 0.1}}", "run.jitter.distribution: expected one of"),
    ("{jitter: {sigma: 0.1, width: 0.1}}", "run.jitter.width: 'width' is only used with distribution 'uniform'"),
])
def test_bad_stragglers_and_jitter_are_located_errors(run, message):
    text = scenario_yaml("ring_allreduce", 4, 4000).replace("run: {seed: 0}", f"run: {run}")
    with pytest.raises(ScenarioError) as caught:
        distsim.loads(text, "s.yaml")
    assert message in str(caught.value) and str(caught.value).startswith("s.yaml:6:")


def _running(durations: list[float]) -> list[float]:
    """End times of ops run back to back from 0, summed as the engine sums them (now + duration)."""
    ends, now = [], 0.0
    for d in durations:
        now = now + d
        ends.append(now)
    return ends
