"""Simulated time against the alpha-beta closed forms, written here from the textbook."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import run_one

S = 4


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@given(n=st.integers(2, 24), chunk=st.integers(1, 10_000), alpha_ns=st.integers(0, 50_000),
       gbit=st.sampled_from([1, 10, 25, 100, 400]))
def test_ring_on_a_switch_takes_exactly_2_n_minus_1_alpha_plus_chunk_over_beta(n, chunk, alpha_ns, gbit):
    p = n * chunk
    outcome = run_one("ring_allreduce", n, p, bandwidth=f"{gbit} Gbit/s", latency=f"{alpha_ns} ns", verify=False)
    alpha, beta = alpha_ns * 1e-9, gbit * 1e9 / 8
    expected = 2 * (n - 1) * (alpha + S * p / (n * beta))
    assert rel(outcome.trace.makespan, expected) < 1e-9
    assert outcome.reconciliation.ok


@pytest.mark.parametrize("n", [2, 3, 8, 13])
def test_all_to_all_on_a_switch_pipelines_its_sends(n):
    p = 10_000
    outcome = run_one("all_to_all", n, p)
    alpha, beta = 5e-6, 100e9 / 8
    assert rel(outcome.trace.makespan, alpha + (n - 1) * p * S / beta) < 1e-9
    assert {c.name: c.status for c in outcome.reconciliation.checks}["makespan (contention-free alpha-beta)"] == "ok"


@pytest.mark.parametrize("n", [2, 5, 8, 16])
def test_parameter_server_is_bottlenecked_by_its_own_link(n):
    p = 250_000
    outcome = run_one("parameter_server", n, p)
    alpha, beta = 5e-6, 100e9 / 8
    assert rel(outcome.trace.makespan, 2 * alpha + 2 * n * p * S / beta) < 1e-9
    checks = {c.name: c for c in outcome.reconciliation.checks}
    assert checks["makespan (contention-free alpha-beta)"].status == "explained"
    assert checks["makespan (server link bottleneck)"].ok
    explanation = " ".join(outcome.reconciliation.notes)
    assert "switch->ps" in explanation and "ps->switch" in explanation
    assert f"({n:.3g} x p s)" in explanation  # the server link carried n gradients each way


def test_reduction_compute_adds_the_gamma_term_on_the_ring():
    n, p, flops = 8, 80_000, 1e12
    text_flops = "1 TFLOPS"
    import distsim

    from conftest import scenario_yaml

    yaml = scenario_yaml("ring_allreduce", n, p, extra="reduce_compute: true").replace(
        "cluster:\n", f"cluster:\n  gpu: {{flops: {text_flops}}}\n"
    )
    (outcome,) = distsim.run(*distsim.loads(yaml))
    alpha, beta = 5e-6, 100e9 / 8
    expected = 2 * (n - 1) * (alpha + S * p / (n * beta)) + (n - 1) * (p / n) / flops
    assert rel(outcome.trace.makespan, expected) < 1e-9
    assert outcome.reconciliation.ok
    ops = outcome.trace.ops
    assert len(ops) == n * (n - 1)  # one reduction per reduce-scatter step per rank
    assert set(ops["flops"].tolist()) == {p / n}


def test_ring_topology_matches_the_closed_form_too():
    outcome = run_one("ring_allreduce", 6, 6000, topology="ring")
    assert outcome.reconciliation.ok


def test_a_server_on_a_physical_ring_is_held_up_by_its_own_two_links():
    # The contention-free form already uses each route (up to four hops round the ring); what is
    # left is the pushes queueing on the two links into ps and the pulls on the two out of it.
    outcome = run_one("parameter_server", 6, 6000, topology="ring")
    status = {c.name: c.status for c in outcome.reconciliation.checks}
    assert status["makespan (contention-free alpha-beta)"] == "explained"
    assert status["traffic per pair"] == "ok"
    held_up = next(note for note in outcome.reconciliation.notes if "held up by" in note)
    assert "ps->w0" in held_up and "ps->w5" in held_up
