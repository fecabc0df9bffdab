"""Every bundled scenario validates and runs with every check holding (exit code 0)."""

from __future__ import annotations

from pathlib import Path

import pytest

import distsim
from conftest import bundled_outcomes

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_bundled_scenario_runs_and_reconciles(path):
    scenario, where = distsim.load(path)
    if scenario.sweep:
        pytest.skip("a sweep: run by distsim sweep")
    outcomes = bundled_outcomes(path)
    assert outcomes and all(o.ok for o in outcomes), [c for o in outcomes for c in o.reconciliation.checks if not c.ok]


def test_the_issue_example_is_accepted_exactly_as_written():
    text = """\
# Ring all-reduce of a 1B-parameter fp32 gradient over 8 GPUs behind one switch.
cluster:
  workers: 8
  gpu: {flops: 312 TFLOPS, memory: 80 GiB}
  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}
model: {params: 1e9, dtype: fp32}
strategy: {kind: ring_allreduce}
run: {seed: 0}
"""
    scenario, where = distsim.loads(text)
    assert scenario.cluster.network.bandwidth == 12.5e9 and scenario.cluster.network.latency == 5e-6
    assert scenario.model.params == 10**9 and scenario.cluster.gpu.memory == 80 * 2**30
    (outcome,) = distsim.run(scenario, where)
    assert outcome.ok and len(outcome.trace.messages) == 112
