"""``strategy: {kind: collective, ...}`` in a scenario: runs, per-rank payload checks, auto's choice in the
output, and located errors for what an algorithm cannot do on the cluster."""

from __future__ import annotations

import json

import pytest

import distsim
from conftest import scenario_yaml
from distsim.cli.main import main
from distsim.collectives import OPS, algorithms_for, refusal, size_refusal
from distsim.errors import ScenarioError


def run(workers: int, params: int, extra: str, **options):
    yaml = scenario_yaml("collective", workers, params, extra=extra, **options)
    (outcome,) = distsim.run(*distsim.loads(yaml, "<collective>"))
    return outcome


@pytest.mark.parametrize("op", OPS)
def test_every_op_and_algorithm_runs_verified_and_reconciled(op):
    n, p = 6, 6 * 50
    for algorithm in algorithms_for(op):
        if refusal(op, algorithm, n) or size_refusal(op, n, p):
            continue
        outcome = run(n, p, f"op: {op}, algorithm: {algorithm}, root: 4")
        assert outcome.result.verified and outcome.ok, (algorithm, outcome.reconciliation.checks)
        assert outcome.result.facts == {"op": op, "requested": algorithm, "algorithm": algorithm}


def test_a_wrong_result_on_one_rank_fails_the_run(monkeypatch):
    """The per-rank check is real: a broadcast whose expected root is wrong cannot pass."""
    from distsim.strategies.collective import Collective

    truth = Collective.expected
    monkeypatch.setattr(Collective, "expected", lambda self, g, w: [x if i else x + 1 for i, x in enumerate(truth(self, g, w))])
    with pytest.raises(distsim.errors.VerificationError, match="1 of 4 workers \\(w0\\)"):
        run(4, 40, "op: broadcast, algorithm: tree")


def test_auto_reports_its_choice_and_the_runner_up_in_text_and_json(tmp_path, capsys):
    path = tmp_path / "auto.yaml"
    path.write_text(scenario_yaml("collective", 8, 10**8, extra="op: all_reduce, algorithm: auto, candidates: [ring, tree]",
                                  verify=False))
    with pytest.raises(SystemExit) as code:
        main(["run", str(path), "--json"])
    assert code.value.code == 0
    decided = json.loads(capsys.readouterr().out)["decided"]
    assert decided["algorithm"] == "ring" and decided["runner_up"] == "tree"
    assert decided["predicted_s"] < decided["runner_up_predicted_s"]
    with pytest.raises(SystemExit):
        main(["run", str(path)])
    text = capsys.readouterr().out
    assert "all_reduce by ring (auto: predicted" in text and "runner-up tree" in text


def test_auto_on_a_tiny_tensor_picks_a_latency_bound_algorithm_and_the_closed_forms_follow_it():
    outcome = run(8, 8, "op: all_reduce, algorithm: auto, candidates: [ring, tree]")
    assert outcome.result.facts["algorithm"] == "tree" and outcome.ok
    assert outcome.reconciliation.checks[0].formula == "2(n-1)"  # the tree's count, not the ring's


@pytest.mark.parametrize("extra, params, where, message", [
    ("op: all_gather, algorithm: recursive_doubling", 60, ":5:", "strategy.algorithm: recursive_doubling all_gather needs a power-of-two"),
    ("op: all_reduce, algorithm: bruck", 60, ":5:", "strategy.algorithm: bruck does not implement all_reduce"),
    ("op: reduce, root: 6", 60, ":5:", "strategy.root: worker 6 does not exist"),
    ("op: all_reduce, algorithm: parameter_server, servers: 9", 60, ":5:", "strategy.servers: parameter_server needs between 1 and 6"),
    ("op: all_to_all, algorithm: pairwise", 61, ":4:", "model.params: all_to_all moves 6 equal blocks"),
    ("op: all_gather, algorithm: auto, candidates: [recursive_doubling]", 60, ":5:", "strategy.candidates: no candidate can run"),
    ("op: all_reduce, algorithm: auto, efficiency: {tree: 2}", 60, ":5:", "strategy.efficiency.tree"),
])
def test_what_cannot_run_is_a_located_error(extra, params, where, message):
    with pytest.raises(ScenarioError) as error:
        distsim.loads(scenario_yaml("collective", 6, params, extra=extra), "c.yaml")
    assert f"c.yaml{where}" in str(error.value) and message in str(error.value)


def test_the_exam_strategy_all_to_all_is_untouched():
    """`all_to_all` stays the exam's gradient exchange; the collective op of that name is a parameter."""
    (outcome,) = distsim.run(*distsim.loads(scenario_yaml("all_to_all", 4, 100)))
    assert outcome.result.kind == "all_to_all" and outcome.reconciliation.checks[0].expected == 12


def test_collectives_command_prints_every_algorithm_the_cheapest_and_the_crossovers(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(scenario_yaml("collective", 8, 64, extra="op: all_reduce, candidates: [ring, tree]"))
    with pytest.raises(SystemExit) as code:
        main(["collectives", str(path), "--points", "7", "--simulate", "-o", str(tmp_path / "c.png")])
    out = capsys.readouterr().out
    assert code.value.code == 0 and (tmp_path / "c.png").stat().st_size > 10_000
    header = out.splitlines()[1].split()
    assert header == ["size", "ring", "tree"]  # the scenario's candidates
    assert "crossovers: tree -> ring at" in out and "*" in out and "[" in out  # cheapest and simulated marked


def test_collectives_command_json_and_options(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(scenario_yaml("all_to_all", 6, 60))
    with pytest.raises(SystemExit) as code:
        main(["collectives", str(path), "--op", "all_to_all", "--from", "600 B", "--to", "6 MB", "--points", "5", "--json"])
    body = json.loads(capsys.readouterr().out)
    assert code.value.code == 0 and set(body["predicted_s"]) == {"bruck", "pairwise"}
    assert all(size % (6 * 4) == 0 for size in body["sizes_bytes"])  # whole equal blocks on 6 workers
    assert [(c["below"], c["above"]) for c in body["crossovers"]] == [("bruck", "pairwise")]
    with pytest.raises(SystemExit) as code:
        main(["collectives", str(path), "--from", "1 GB", "--to", "1 kB"])
    assert code.value.code == 2 and "must be smaller than --to" in capsys.readouterr().err


def test_collectives_command_help_says_what_the_times_are(capsys):
    with pytest.raises(SystemExit):
        main(["collectives", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "crossovers" in text and "algorithm: auto" in text and "--simulate" in text


@pytest.mark.parametrize("extra", ["op: all_reduce, algorithm: double_binary_tree", "op: all_reduce, algorithm: auto",
                                   "op: all_to_all, algorithm: bruck", "op: all_reduce, algorithm: multi_ring, channels: 3"])
def test_same_scenario_same_trace_bit_for_bit(extra):
    def trace_bytes(outcome):
        m = outcome.trace.messages.columns()
        return b"".join(m[k].tobytes() for k in sorted(m))

    a, b = run(7, 7 * 300, extra, seed=3), run(7, 7 * 300, extra, seed=3)
    assert trace_bytes(a) == trace_bytes(b) and a.result.facts == b.result.facts


def test_auto_reads_the_tiers_off_the_routes_not_the_nominal_network():
    """A graph whose cables are 400 Gbit/s under a 1 Gbit/s default: auto predicts with the cables' figures,
    and its prediction is the simulated time (n = 4, equal chunks: where the tuner is exact)."""
    yaml = """cluster:
  workers: 4
  network:
    topology: graph
    bandwidth: 1 Gbit/s
    latency: 1 ms
    switches: [sw]
    edges:
      - {nodes: [0, sw], bandwidth: 400 Gbit/s, latency: 2.5 us}
      - {nodes: [1, sw], bandwidth: 400 Gbit/s, latency: 2.5 us}
      - {nodes: [2, sw], bandwidth: 400 Gbit/s, latency: 2.5 us}
      - {nodes: [3, sw], bandwidth: 400 Gbit/s, latency: 2.5 us}
model: {params: 4000000}
strategy: {kind: collective, op: all_reduce, algorithm: auto, candidates: [ring, halving_doubling]}
run: {verify_payload: false}
"""
    (outcome,) = distsim.run(*distsim.loads(yaml))
    facts = outcome.result.facts
    assert facts["algorithm"] == "halving_doubling" and outcome.ok
    assert facts["predicted_s"] == pytest.approx(outcome.trace.makespan, rel=1e-9)
    assert facts["predicted_s"] == pytest.approx(4 * 5e-6 + 2 * 3 / 4 * 16e6 / 50e9, rel=1e-12)
