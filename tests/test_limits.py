"""Issue 10, items 5 and 6: what cannot finish is refused up front with its estimate; what overflows is bad input.

Before: 1,048,576 workers all-to-all grew to 3.3 GB and died of MemoryError;
10^6 layers and a 99,856-point sweep ran for minutes before anything; real
payloads of 1e10 parameters raised MemoryError; a latency of 1e308 s printed
NaN and Infinity as JSON. Now each is one located problem (exit code 2), the
size estimate is in the message, and ``--force`` lifts the size limits (not the
overflow check: such a result cannot be written).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

import distsim
from conftest import invoke, scenario_yaml
from distsim import api, estimate, strict_json
from distsim.errors import Problem, ScenarioError, SimulationError

ROOT = Path(__file__).resolve().parent.parent
CHAIN = """\
cluster: {workers: 1, memory: {load_latency: 10 ns}}
model: {layers: LAYERS, layer: {fwd_time: 20 ns, activation: 4 KiB}}
strategy: {kind: KIND}
"""


def refused(text: str, force: bool = False) -> Problem:
    with pytest.raises(ScenarioError) as caught:
        distsim.loads(text, "s.yaml", force=force)
    (problem,) = caught.value.problems
    return problem


# --- item 5: limits, with the estimate in the message ---

def test_a_million_workers_all_to_all_is_refused_with_its_estimate():
    problem = refused(scenario_yaml("all_to_all", 2**20, 1000))
    assert (problem.dotted_path, problem.line) == ("cluster.workers", 2)
    for words in ("about 1.1e12 messages (n(n-1))", "1,048,576 ranks", "TB of memory", "days", "--force"):
        assert words in problem.message, problem.message


def test_a_million_layers_are_refused_with_their_estimate():
    problem = refused(CHAIN.replace("LAYERS", "1000000").replace("KIND", "checkpoint_every_k"))
    assert problem.dotted_path == "model.layers" and "about 7e6 ops" in problem.message and "--force" in problem.message


def test_a_large_schedule_is_counted_from_its_closed_form():
    # L = 1e5, k = round(sqrt(L)) = 316: 316 cycles of 0..315 and then 1..144, 15,737,760 reruns.
    problem = refused(CHAIN.replace("LAYERS", "100000").replace("KIND", "checkpoint_every_k"))
    assert "15,737,760 recomputations: sum_{i=1..L} (i mod k)" in problem.message and "3.2e7 ops" in problem.message


STEP = """\
cluster: {preset: dgx-h100, nodes: NODES}
model: {preset: gpt-7b, dtype: bf16}
strategy: {kind: data_parallel, zero: 1, bucket: 25 MiB, algorithm: ALGORITHM}
"""


def test_a_training_step_is_sized_by_the_messages_of_its_collectives():
    # gpt-7b in bf16: 6,658,404,352 x 2 B in 25 MiB buckets = 508 buckets, each reduce-scattered and all-gathered:
    # as rings on 1,024 GPUs that is 2 x 508 x 1,024 x 1,023 = 1.06e9 messages, refused; auto picks halving and
    # doubling for these 25 KiB shards, 2 x 508 x 1,024 x 10 = 10.4 M messages, which runs (in minutes).
    problem = refused(STEP.replace("NODES", "128").replace("ALGORITHM", "ring"))
    assert problem.dotted_path == "cluster.nodes" and problem.line == 1
    for words in ("about 1.1e9 messages", "508 x reduce_scatter by ring, 508 x all_gather by ring", "--force"):
        assert words in problem.message, problem.message
    (strategy,) = api.prepare("s.yaml", STEP.replace("NODES", "128").replace("ALGORITHM", "ring"), force=True).strategies
    assert strategy.params.algorithm == "ring"  # lifted, not run
    prepared = api.prepare("s.yaml", STEP.replace("NODES", "128").replace("ALGORITHM", "auto"))
    size = api.KINDS["training"].estimate(prepared.scenario, prepared.strategies[0])
    assert "508 x reduce_scatter by halving_doubling" in size.formula and 1e7 < size.events < 1.5e7


@pytest.mark.parametrize("name", ["step_overlap.yaml", "gpt7b_64gpu.yaml"])
def test_the_training_estimate_counts_the_messages_the_step_sends(name):
    """Not a bound: the estimate resolves each collective's algorithm as the run does and counts its messages
    (ring, halving and doubling, ZeRO 1 and 3, with and without overlap)."""
    from conftest import bundled_outcomes
    from distsim.training.estimate import _messages
    from distsim.workload import layers_of

    path = ROOT / "scenarios" / name
    prepared = api.prepare(path)
    outcomes = bundled_outcomes(path)
    assert {o.family for o in outcomes} == {"training"}
    for strategy, outcome in zip(prepared.strategies, outcomes):
        messages, _, _ = _messages(prepared.scenario, strategy, layers_of(prepared.scenario.model))
        assert messages == len(outcome.trace.messages) > 0, strategy.label


def test_a_99856_point_sweep_is_refused_before_any_point_is_built(tmp_path):
    values = ", ".join(str(1000 + i) for i in range(316))
    path = tmp_path / "s.yaml"
    path.write_text(scenario_yaml("ring_allreduce", 4, 1000) + f"sweep:\n  model.params: [{values}]\n  run.seed: [{values}]\n")
    code, _, err = invoke("validate", path)
    assert code == 2 and err.count("\n") == 1, err
    assert f"{path}:7:1: sweep: the grid has 99,856 points" in err and "min before the first runs" in err


def test_a_point_too_large_is_located_at_its_sweep_value(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(scenario_yaml("all_to_all", 4, 1000) + "sweep:\n  cluster.workers: [4, 1048576]\n")
    code, _, err = invoke("sweep", path, "-j", "1")
    assert code == 2 and f"{path}:8:24: sweep.cluster.workers.1: value 1048576: all_to_all is too large" in err, err


def test_real_payloads_that_do_not_fit_are_refused_not_a_memory_error():
    problem = refused(scenario_yaml("ring_allreduce", 4, 10**10, verify=True))
    assert problem.dotted_path == "run.verify_payload" and "payloads 960 GB" in problem.message


@pytest.mark.parametrize("workers", [2048, 4096])
def test_the_benchmark_sizes_are_allowed(workers):
    text = scenario_yaml("ring_allreduce", workers, 10**9, verify=False)  # distsim bench --suite ring
    scenario, where = distsim.loads(text)
    (strategy,) = api.build_strategies(scenario, where)
    sized = api.KINDS["communication"].estimate(scenario, strategy)
    assert sized.events == 2 * workers * (workers - 1) and sized.bytes < estimate.MAX_MEMORY


def test_every_bundled_scenario_is_within_the_limits():
    code, out, err = invoke("validate", ROOT / "scenarios")
    assert code == 0, err


def test_force_runs_what_the_limits_refuse(tmp_path, monkeypatch):
    monkeypatch.setattr(estimate, "MAX_MESSAGES", 10)  # so that a 4-worker ring (24 messages) is "too large"
    path = tmp_path / "s.yaml"
    path.write_text(scenario_yaml("ring_allreduce", 4, 100))
    code, out, err = invoke("run", path)
    assert code == 2 and "about 24 messages (2n(n-1))" in err and "the limit is 10 messages" in err and not out
    assert invoke("validate", path)[0] == 2
    assert invoke("validate", path, "--force")[0] == 0
    code, out, err = invoke("run", path, "--force", "--json")
    assert code == 0 and json.loads(out)["messages"] == 24, err


def test_running_out_of_memory_anyway_is_one_line_exit_3(tmp_path, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise MemoryError

    family = api.KINDS["communication"]
    monkeypatch.setitem(api.KINDS, "communication", replace(family, simulate=out_of_memory))
    path = tmp_path / "s.yaml"
    path.write_text(scenario_yaml("ring_allreduce", 4, 100))
    code, _, err = invoke("run", path)
    assert code == 3 and err.count("\n") == 1 and "ran out of memory" in err and "about 24 messages" in err, err


# --- item 6: no NaN or Infinity; values whose derived times overflow are bad input ---

@pytest.mark.parametrize("change, field", [
    ({"latency": "1e308"}, "cluster.network.latency"),
    ({"bandwidth": "5e-324"}, "cluster.network.bandwidth"),
])
def test_network_values_whose_times_overflow(change, field):
    problem = refused(scenario_yaml("ring_allreduce", 4, 1000, **change))
    assert problem.dotted_path == field and "overflow" in problem.message
    refused(scenario_yaml("ring_allreduce", 4, 1000, **change), force=True)  # --force does not lift this one


def test_a_tiny_flop_rate_overflows_where_it_is_used():
    text = scenario_yaml("parameter_server", 4, 1000, extra="reduce_compute: true").replace(
        "cluster:\n", "cluster:\n  gpu: {flops: 5e-324}\n")
    assert refused(text).dotted_path == "cluster.gpu.flops"
    chain = CHAIN.replace("LAYERS", "10").replace("KIND", "store_all").replace("fwd_time: 20 ns", "fwd_flops: 1e9")
    assert refused(chain.replace("workers: 1,", "workers: 1, gpu: {flops: 5e-324},")).dotted_path == "cluster.gpu.flops"
    assert refused(chain.replace("fwd_flops: 1e9", "fwd_time: 1e308")).dotted_path == "model.layer.fwd_time"


def test_json_output_is_strict_and_rounded_to_12_digits():
    code, out, err = invoke("run", ROOT / "scenarios" / "ring_allreduce.yaml", "--json")
    assert code == 0, err

    def no_constants(name):
        raise AssertionError(f"{name} in JSON output")

    floats = []
    json.loads(out, parse_constant=no_constants, parse_float=lambda text: floats.append(text) or float(text))
    assert floats and all(len(text.lstrip("-").split("e")[0].replace(".", "").lstrip("0")) <= 12 for text in floats)


def test_strict_json_rounds_and_refuses_non_finite_numbers():
    assert strict_json.dumps({"makespan_s": 5.000000000000004e-07}, indent=None) == '{"makespan_s": 5e-07}'
    assert strict_json.dumps([0.1 + 0.2, 3, True, None], indent=None) == "[0.3, 3, true, null]"
    assert json.loads(strict_json.dumps({"x": 5.000000000000004e-07}, digits=None))["x"] == 5.000000000000004e-07
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(SimulationError, match="runs.0.makespan_s is"):
            strict_json.dumps({"runs": [{"makespan_s": bad}]})
