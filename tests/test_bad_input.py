"""Issue 10, items 1, 6 and 7: inputs that used to crash, hang or slip through are located errors (exit 2).

Each test names the input that failed before (a traceback, a value silently taken
as another, a file's content echoed) and checks the one-line located problem that
replaces it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import distsim
from conftest import invoke
from distsim.errors import Problem, ScenarioError

ROOT = Path(__file__).resolve().parent.parent
RING = """\
cluster:
  workers: 4
  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}
model: {params: 1000}
strategy: {kind: ring_allreduce}
"""


def problems(text: str, name: str = "s.yaml") -> list[Problem]:
    with pytest.raises(ScenarioError) as caught:
        distsim.loads(text, name)
    return caught.value.problems


def one(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def assert_located_exit_2(args: tuple, *words: str) -> None:
    code, _, err = invoke(*args)
    assert code == 2 and "Traceback" not in err, (code, err)
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("distsim: error: ") for line in lines), err
    for word in words:
        assert word in err, err


# --- item 1: values that reached numpy or the file system and raised there ---

def test_a_negative_seed_is_a_located_error():
    problem = one(RING + "run: {seed: -1}\n")
    assert (problem.dotted_path, problem.line) == ("run.seed", 6)
    assert "greater than or equal to 0" in problem.message


def test_a_negative_seed_in_a_sweep_is_located_at_the_sweep_value(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(RING + "sweep:\n  run.seed: [0, -1]\n")
    assert_located_exit_2(("sweep", path), f"{path}:7:", "sweep.run.seed.1", "value -1")


@pytest.mark.parametrize("params", ["-1", "0", "-1e9"])
def test_params_must_be_positive(params):
    problem = one(RING.replace("params: 1000", f"params: {params}"))
    assert problem.dotted_path == "model.params" and "greater than or equal to 1" in problem.message


def test_extends_with_a_nul_character(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text('extends: "a\\0b.yaml"\n' + RING)
    with pytest.raises(ScenarioError) as caught:
        distsim.load(path)
    (problem,) = caught.value.problems
    assert problem.dotted_path == "extends" and problem.line == 1 and "NUL" in problem.message


def test_extends_a_symlink_that_points_at_itself(tmp_path):
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    path = tmp_path / "s.yaml"
    path.write_text("extends: loop.yaml\n" + RING)
    with pytest.raises(ScenarioError) as caught:
        distsim.load(path)
    (problem,) = caught.value.problems
    assert problem.dotted_path == "extends" and "loop.yaml" in problem.message and "symbolic link" in problem.message


def test_running_a_symlink_that_points_at_itself(tmp_path):
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    assert_located_exit_2(("run", tmp_path / "loop.yaml"), "symbolic link")


# --- item 7: small ones ---

def test_the_package_does_not_shadow_its_strategies_subpackage():
    code = "import distsim, distsim.strategies.registry as r; print(r.__name__, callable(distsim.available_strategies))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["distsim.strategies.registry", "True"]
    assert "ring_allreduce" in distsim.available_strategies()


def test_extends_shows_the_path_of_a_base_that_is_not_a_scenario_never_its_content(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:the secret first line of a file that is not a scenario\n")
    path = tmp_path / "s.yaml"
    path.write_text("extends: secret.txt\n" + RING)
    with pytest.raises(ScenarioError) as caught:
        distsim.load(path)
    text = str(caught.value)
    assert "secret.txt" in text and "root:x" not in text and "secret first line" not in text


@pytest.mark.parametrize("field, value", [
    ("model: {params: 1000}", "model: {params: '١٠٠٠'}"),  # Arabic-Indic digits
    ("latency: 5 us", "latency: ٥ us"),
    ("bandwidth: 100 Gbit/s", "bandwidth: ١٠٠ Gbit/s"),
    ("workers: 4", "workers: '٤'"),
    ("model: {params: 1000}", "model: {params: ５}"),  # full-width digit
])
def test_only_ascii_digits_are_numbers(field, value):
    problem = one(RING.replace(field, value))
    assert "found" in problem.message


@pytest.mark.parametrize("value", ["'1e-400 s'", "1e-400", "1.0e-400", "'1e-330 us'", "'3e-9999 s'"])
def test_a_time_that_underflows_to_zero_is_an_error(value):
    problem = one(RING.replace("latency: 5 us", f"latency: {value}"))
    assert problem.dotted_path == "cluster.network.latency" and "too small" in problem.message


@pytest.mark.parametrize("value, seconds", [("'0 s'", 0.0), ("'0e-400 s'", 0.0), ("'5e-324 s'", 5e-324)])
def test_zero_is_zero_and_the_smallest_double_is_kept(value, seconds):
    scenario, _ = distsim.loads(RING.replace("latency: 5 us", f"latency: {value}"))
    assert scenario.cluster.network.latency == seconds


def test_an_integer_beyond_the_largest_double_is_an_error():  # found by the fuzz test: OverflowError before
    problem = one(RING.replace("network: {", "gpu: {memory: " + "9" * 400 + "}\n  network: {"))
    assert problem.dotted_path == "cluster.gpu.memory" and "400-digit number (too large)" in problem.message
