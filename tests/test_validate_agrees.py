"""Issue 10, item 3: ``distsim validate`` accepts exactly what ``run`` and ``sweep`` accept.

It passed a parameter server on worker 99 of 2, a graph that leaves a worker
unconnected, and every ``sweep:`` block unchecked; a sweep's error pointed at a
generated point (``file [strategy.server=99]:9:11``) instead of the user's line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import distsim
from conftest import invoke
from distsim.errors import ScenarioError
from distsim.sweep import run_sweep
from distsim.sweep.check import check_file
from distsim.sweep.executors import run_serial

ROOT = Path(__file__).resolve().parent.parent
BASE = """\
cluster:
  workers: 2
  network: {bandwidth: 100 Gbit/s, latency: 5 us}
model: {params: 100}
"""
CASES = {
    "server_99": (BASE + "strategy: {kind: parameter_server, server: 99}\n", "strategy.server", 5, "worker 99 does not exist"),
    "unconnected": (BASE.replace("{bandwidth", "{topology: graph, switches: [sw], edges: [[0, sw]], bandwidth")
                    + "strategy: {kind: ring_allreduce}\n", "cluster.network.edges", 3, "no cable connects w1"),
    "sweep_value": (BASE + "strategy: {kind: parameter_server}\nsweep:\n  strategy.server: [0, 99]\n",
                    "sweep.strategy.server.1", 7, "worker 99 does not exist"),
    "sweep_seed": (BASE + "strategy: {kind: ring_allreduce}\nsweep:\n  run.seed: [1, -2]\n", "sweep.run.seed.1", 7, "value -2"),
    "sweep_workers": (BASE + "strategy: {kind: ring_allreduce}\nsweep:\n  cluster.workers: [2, 1]\n",
                      "sweep.cluster.workers.1", 7, "needs at least 2 workers"),
}


def validate(path: Path) -> tuple[int, str]:
    code, _, err = invoke("validate", path)
    return code, err


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_refuses_what_run_or_sweep_refuse_at_the_users_line(tmp_path, name):
    text, field, line, words = CASES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    code, output = validate(path)
    assert code == 2, output
    (error,) = output.strip().splitlines()
    assert error.startswith(f"distsim: error: {path}:{line}:") and f": {field}: " in error and words in error, error
    assert "[" not in error.split(": ")[1], error  # the user's file, not a generated point's name
    with pytest.raises(ScenarioError) as refused:
        run_sweep(path, run_tasks=run_serial) if "sweep" in text else distsim.run(path)
    assert [p.one_line() for p in refused.value.problems] == [error.removeprefix("distsim: error: ")]


def test_a_sweep_value_inherited_through_extends_is_located_in_its_file(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE + "strategy: {kind: parameter_server}\nsweep:\n  strategy.server: [0, 99]\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nrun: {seed: 3}\n")
    code, output = validate(tmp_path / "child.yaml")
    assert code == 2 and f"{tmp_path / 'base.yaml'}:7:" in output and "sweep.strategy.server.1" in output, output


def test_every_bundled_scenario_validates_with_its_sweep(tmp_path):
    code, output = validate(ROOT / "scenarios")
    assert code == 0, output
    _, _, points = check_file(ROOT / "scenarios" / "sweep_scaling.yaml")
    assert len(points) == 15


def test_a_valid_sweep_validates_and_runs(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(BASE + "strategy: {kind: parameter_server}\nsweep:\n  strategy.server: [0, 1]\n")
    assert validate(path)[0] == 0
    assert len(run_sweep(path, run_tasks=run_serial).rows) == 2
