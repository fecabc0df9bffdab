"""``extends:``: a scenario overrides another file's keys; every error names the file that wrote the value."""

from __future__ import annotations

from pathlib import Path

import pytest

import distsim
from distsim.errors import ScenarioError
from distsim.scenario.extends import merge
from distsim.scenario.source import Locations

BASE = """\
cluster:
  workers: 8
  gpu: {flops: 312 TFLOPS, memory: 80 GiB}
  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}
model: {params: 1e6, dtype: fp32}
strategy: {kind: parameter_server, server: dedicated, lr: 0.5}
run: {seed: 7}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load_problems(path: Path) -> list:
    with pytest.raises(ScenarioError) as caught:
        distsim.load(path)
    return caught.value.problems


def test_overrides_merge_deeply_and_keep_the_rest(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\ncluster:\n  workers: 4\n  network: {latency: 1 us}\n")
    scenario, _ = distsim.load(child)
    assert scenario.cluster.workers == 4
    assert scenario.cluster.network.latency == 1e-6 and scenario.cluster.network.bandwidth == 12.5e9
    assert scenario.cluster.gpu.memory == 80 * 2**30 and scenario.run.seed == 7
    assert scenario.strategy[0].kind == "parameter_server" and scenario.strategy[0].params["lr"] == 0.5


def test_same_kind_merges_parameters_a_new_kind_replaces_them(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    same = write(tmp_path, "same.yaml", "extends: base.yaml\nstrategy: {kind: parameter_server, server: 0}\n")
    assert dict(distsim.load(same)[0].strategy[0].params) == {"server": 0, "lr": 0.5}
    other = write(tmp_path, "other.yaml", "extends: base.yaml\nstrategy: {kind: ring_allreduce}\n")
    (spec,) = distsim.load(other)[0].strategy
    assert spec.kind == "ring_allreduce" and dict(spec.params) == {}  # no stray 'server' or 'lr'


def test_lists_replace_and_null_removes(tmp_path):
    write(tmp_path, "base.yaml", BASE.replace("strategy: {kind: parameter_server, server: dedicated, lr: 0.5}",
                                              "strategy: [{kind: all_to_all}, {kind: ring_allreduce}]"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nstrategy: [{kind: parameter_server}]\nrun: {seed: null}\n")
    scenario, _ = distsim.load(child)
    assert [s.kind for s in scenario.strategy] == ["parameter_server"] and scenario.run.seed == 0  # the default


def test_a_chain_of_files_in_other_folders(tmp_path):
    write(tmp_path, "common/base.yaml", BASE)
    write(tmp_path, "family/mid.yaml", "extends: ../common/base.yaml\nmodel: {dtype: fp16}\n")
    leaf = write(tmp_path, "family/deep/leaf.yaml", "extends: ../mid.yaml\ncluster: {workers: 2}\n")
    scenario, _ = distsim.load(leaf)
    assert (scenario.cluster.workers, scenario.model.dtype, scenario.model.params) == (2, "fp16", 10**6)


def test_errors_name_the_file_and_line_that_wrote_the_value(tmp_path):
    write(tmp_path, "base.yaml", BASE.replace("latency: 5 us", "latency: 5 uss").replace("fp32", "fp33"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\ncluster:\n  workers: zero\nmodel: {dtype: fp16}\n")
    found = load_problems(child)
    assert [(Path(p.file).name, p.dotted_path, p.line, p.column) for p in found] == [
        ("child.yaml", "cluster.workers", 3, 12),  # the extending file first
        ("base.yaml", "cluster.network.latency", 4, 63),  # inherited: located in the base; fp33 was overridden
    ]
    assert found[1].file == str(tmp_path / "base.yaml")


def test_unknown_keys_and_strategy_errors_in_a_base(tmp_path):
    write(tmp_path, "base.yaml", BASE.replace("lr: 0.5", "lr: -1, chunk: 2"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nrun: {seed: 1}\n")
    found = load_problems(child)
    assert {(Path(p.file).name, p.dotted_path, p.line) for p in found} == {("base.yaml", "strategy.lr", 6),
                                                                            ("base.yaml", "strategy.chunk", 6)}


def test_a_missing_key_is_located_at_its_parent_in_whichever_file_wrote_it(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\ncluster:\n  workers: null\n")
    (problem,) = load_problems(child)
    assert (Path(problem.file).name, problem.dotted_path, problem.line) == ("child.yaml", "cluster.workers", 3)
    assert problem.message.startswith("missing required key 'workers'")


@pytest.mark.parametrize(
    "files, start, words",
    [
        ({"a.yaml": "extends: a.yaml\n"}, "a.yaml", "extends cycle: a.yaml -> a.yaml"),
        ({"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: ./a.yaml\n"}, "a.yaml", "extends cycle: a.yaml -> b.yaml -> a.yaml"),
        ({"a.yaml": "extends: nope.yaml\n"}, "a.yaml", "cannot read base scenario 'nope.yaml'"),
        ({"a.yaml": "extends: [b.yaml]\n"}, "a.yaml", "expected the path of a base scenario file, found a list"),
        ({"a.yaml": "extends: b.yaml\n", "b.yaml": "- 1\n"}, "a.yaml", "'b.yaml' is not a scenario: it holds a list"),
        ({"a.yaml": "extends: b.yaml\n", "b.yaml": "cluster: [\n"}, "a.yaml", "invalid YAML"),
    ],
)
def test_broken_extends_are_located(tmp_path, monkeypatch, files, start, words):
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        write(tmp_path, name, text)
    problems = load_problems(Path(start))
    assert len(problems) == 1 and words in problems[0].message, problems
    assert problems[0].line is not None


def test_a_cycle_is_reported_in_the_file_that_closes_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "# b\nextends: a.yaml\n")
    (problem,) = load_problems(Path("a.yaml"))
    assert (problem.file, problem.line, problem.column) == ("b.yaml", 2, 10)


def test_a_yaml_error_in_the_base_names_the_base(tmp_path):
    write(tmp_path, "base.yaml", "cluster:\n  workers: 4\n  workers: 5\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\n")
    (problem,) = load_problems(child)
    assert problem.file == str(tmp_path / "base.yaml") and problem.line == 3


def test_text_without_a_file_extends_relative_to_the_working_directory(tmp_path, monkeypatch):
    write(tmp_path, "base.yaml", BASE)
    monkeypatch.chdir(tmp_path)
    scenario, _ = distsim.loads("extends: base.yaml\ncluster: {workers: 3}\n")
    assert scenario.cluster.workers == 3


def test_merge_rules_directly():
    base = {"a": {"x": 1, "y": [1, 2]}, "s": {"kind": "k1", "p": 1}, "gone": 3}
    over = {"a": {"y": [3]}, "s": {"kind": "k2"}, "gone": None, "new": {"z": 1}}
    data, where = merge(base, Locations("base"), over, Locations("over"))
    assert data == {"a": {"x": 1, "y": [3]}, "s": {"kind": "k2"}, "new": {"z": 1}}


def test_the_guide_example_works_as_documented(tmp_path):
    """docs/scenarios.md's extends example, taken from the page itself."""
    guide = (Path(__file__).resolve().parent.parent / "docs" / "scenarios.md").read_text()
    blocks = [b.split("```", 1)[0] for b in guide.split("```yaml\n")[1:]]
    files = {b.splitlines()[0].removeprefix("# scenarios/").split(":")[0]: b for b in blocks
             if b.startswith("# scenarios/")}
    assert set(files) == {"cluster8.yaml", "ps8_slow.yaml"}
    for name, text in files.items():
        write(tmp_path, name, text)
    scenario, _ = distsim.load(tmp_path / "ps8_slow.yaml")
    network = scenario.cluster.network
    assert (network.bandwidth, network.latency, network.topology) == (25e9 / 8, 5e-6, "switch")
    (spec,) = scenario.strategy
    assert spec.kind == "parameter_server" and dict(spec.params) == {"server": 0}
    (outcome,) = distsim.run(scenario)
    assert outcome.ok and len(outcome.trace.messages) == 14  # worker 0's push and pull are local copies
