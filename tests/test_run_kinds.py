"""The run-kind table: one entry per kind of run, read by the API, the report, the CLI and the sweep;
strategies built once per run."""

from __future__ import annotations

import distsim
from distsim import api
from distsim.kinds import KINDS
from distsim.report.summary import summary_table
from distsim.strategies import registry

MIXED = """
cluster:
  workers: 4
  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}
  memory: {load_latency: 10 ns}
model: {params: 400, layers: 6, layer: {fwd_time: 20 ns, activation: 1 MiB}}
strategy: [{kind: ring_allreduce}, {kind: checkpoint_every_k, k: 2}, {kind: all_to_all}]
"""


def test_every_builtin_strategy_names_a_kind_of_the_table():
    assert {cls.family for cls in registry.BUILTIN} <= set(KINDS)
    assert all(name == kind.name for name, kind in KINDS.items())


def test_a_run_builds_each_strategy_once(tmp_path, monkeypatch):
    built = []
    original = api._build_strategy

    def counting(spec, where):
        built.append(spec.kind)
        return original(spec, where)

    monkeypatch.setattr(api, "_build_strategy", counting)
    path = tmp_path / "mixed.yaml"
    path.write_text(MIXED)
    outcomes = distsim.run(path)
    assert built == ["ring_allreduce", "checkpoint_every_k", "all_to_all"]
    prepared = api.prepare(path)
    assert [o.result.strategy for o in api.run(prepared)] == list(prepared.strategies)  # the very objects checked
    assert [o.family for o in outcomes] == ["communication", "rematerialization", "communication"]


def test_outcomes_reach_their_entry_and_the_summary_has_one_table_per_kind(tmp_path):
    outcomes = distsim.run(*distsim.loads(MIXED))
    assert [o.run_kind.name for o in outcomes] == [o.family for o in outcomes]
    text = summary_table(outcomes)
    assert "params per message" in text and "fwd (recompute)" in text  # the exam table, then the schedules'
    assert text.index("ring_allreduce") < text.index("checkpoint_every_k")
    assert text.count("all_to_all") == 1  # with the other communication run, not a table of its own
