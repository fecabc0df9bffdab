"""Located errors: every problem at once, at the right line and column, saying what was expected and found."""

from __future__ import annotations

import re
import typing

import pytest
from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticKnownError
from pydantic_core.core_schema import ErrorType

import distsim
from distsim.errors import Problem, ScenarioError
from distsim.scenario.problems import describe, problems_from_validation, sort_problems
from distsim.scenario.source import Locations

GOOD = """\
cluster:
  workers: 4
  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}
model: {params: 1000, dtype: fp32}
strategy: {kind: ring_allreduce}
"""


def problems(text: str) -> list[Problem]:
    with pytest.raises(ScenarioError) as caught:
        distsim.loads(text, "s.yaml")
    return caught.value.problems


def one(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def test_the_good_scenario_loads():
    scenario, _ = distsim.loads(GOOD)
    assert scenario.cluster.workers == 4


def test_every_problem_is_reported_at_once_in_reading_order():
    text = """\
cluster:
  workerz: 8
  network: {topology: swich, bandwidth: 100 Gbit/s, latency: -5 us}
model: {params: 1.5, dtype: fp33}
strategy:
  - {kind: ring_allreduc}
  - {kind: parameter_server, server: foo, lr: -1, extra: 3}
run: {seed: abc}
"""
    found = problems(text)
    assert [(p.dotted_path, p.line, p.column) for p in found] == [
        ("cluster.workers", 1, 1),  # missing: at the key of the mapping that lacks it
        ("cluster.workerz", 2, 3),  # unknown: at the key
        ("cluster.network.topology", 3, 23),  # bad values: at the value
        ("cluster.network.latency", 3, 62),
        ("model.params", 4, 17),
        ("model.dtype", 4, 29),
        ("strategy.0.kind", 6, 12),  # strategy problems come with the rest
        ("strategy.1.server", 7, 38),
        ("strategy.1.lr", 7, 47),
        ("strategy.1.extra", 7, 51),
        ("run.seed", 8, 13),
    ]
    messages = {p.dotted_path: p.message for p in found}
    assert messages["cluster.workerz"] == "unknown key 'workerz' (did you mean 'workers'?)"
    assert messages["cluster.network.topology"].endswith("found 'swich' (did you mean 'switch'?)")
    assert messages["cluster.network.latency"] == "expected a value greater than or equal to 0, found '-5 us'"
    assert messages["model.params"] == "expected a whole number, found 1.5"
    assert messages["strategy.0.kind"].startswith("unknown strategy 'ring_allreduc' (did you mean 'ring_allreduce'?)")
    assert messages["strategy.1.server"] == "expected 'dedicated' or a whole number, found 'foo'"  # one union, one line
    assert messages["strategy.1.extra"] == "unknown key 'extra'; allowed here: reduce_compute, server, lr"
    assert messages["run.seed"] == "expected a whole number, found 'abc'"


@pytest.mark.parametrize(
    "old, new, path, line, column, words",
    [
        ("workers: 4", "workers: [4]", "cluster.workers", 2, 12, "expected a whole number, found a list"),
        ("workers: 4", "workers: 0", "cluster.workers", 2, 12, "greater than or equal to 1, found 0"),
        ("workers: 4", "workers: 4.5", "cluster.workers", 2, 12, "found 4.5"),
        ("workers: 4", "workers:", "cluster.workers", 2, 11, "found nothing (null)"),
        ("workers: 4", "workers: {a: 1}", "cluster.workers", 2, 12, "found a mapping"),
        ("model: {params: 1000, dtype: fp32}", "model: [1, 2]", "model", 4, 8, "expected a mapping"),
        ("model: {params: 1000, dtype: fp32}", "model: {dtype: fp32}", "model", 4, 1, "missing required key 'params'"),
        ("bandwidth: 100 Gbit/s", "bandwidth: 100 Gbit", "cluster.network.bandwidth", 3, 42, "expected a bandwidth"),
        ("latency: 5 us", "latency: 5 uss", "cluster.network.latency", 3, 63, "did you mean 'us'?"),
        ("  network", "  gpu: {memory: 80 GiB, flops: yes}\n  network", "cluster.gpu.flops", 3, 32, "found true"),
        ("strategy: {kind: ring_allreduce}", "strategy: {kind: ring_allreduce, reduce_compute: maybe}",
         "strategy.reduce_compute", 5, 50, "expected true or false, found 'maybe'"),
        ("strategy: {kind: ring_allreduce}", "strategy: ring_allreduce", "strategy", 5, 11, "found 'ring_allreduce'"),
        ("strategy: {kind: ring_allreduce}", "strategy: {kind: 3}", "strategy.kind", 5, 18, "expected a strategy name, found 3"),
        ("strategy: {kind: ring_allreduce}", "strategy: {chunks: 3}", "strategy.kind", 5, 1, "missing required key 'kind'"),
        ("strategy: {kind: ring_allreduce}", "strategy: []", "strategy", 5, 11, "found an empty list"),
        ("strategy: {kind: ring_allreduce}", "", "strategy", 1, 1, "missing required key 'strategy'"),
        ("model:", "modle:", "modle", 4, 1, "did you mean 'model'?"),
    ],
)
def test_each_mistake_is_located_and_explained(old, new, path, line, column, words):
    text = GOOD.replace(old, new)
    assert text != GOOD
    found = [p for p in problems(text) if p.dotted_path == path]
    assert found, problems(text)
    assert (found[0].line, found[0].column) == (line, column)
    assert words in found[0].message, found[0].message
    assert "\n" not in found[0].message


def test_graph_edges_are_located_inside_lists():
    text = GOOD.replace("{topology: switch,", "{topology: graph, edges: [[0, 1], [1], {nodes: [0, 2], bandwidth: x}],")
    found = problems(text)
    paths = {p.dotted_path: p for p in found}
    assert "cluster.network.edges.1" in paths or "cluster.network.edges.1.1" in paths, found
    assert paths["cluster.network.edges.2.bandwidth"].message.startswith("expected a bandwidth")


def test_a_model_rule_is_located_at_its_section():
    problem = one(GOOD.replace("topology: switch", "topology: graph"))
    assert problem.dotted_path == "cluster.network" and problem.line == 3 and "needs an 'edges' list" in problem.message


@pytest.mark.parametrize(
    "text, line, column, words",
    [
        ("", None, None, "found an empty file"),
        ("[1, 2]", 1, 1, "found a list"),
        ("cluster: [", 1, 11, "invalid YAML"),
        ("a: 1\na: 2\n", 2, 1, "duplicate key 'a'"),
        ("a: 1\n\tb: 2\n", 2, 1, "invalid YAML"),
        ("a: 1\n\x07b: 2\n", 2, 1, "control character 0x07"),
        ("? [a, b]\n: 1\n", 1, 3, "expected a key name, found a list"),
        ("a: !!python/object/apply:os.system [echo hi]", 1, 4, "'!!python/object/apply:os.system' is not allowed"),
        ("!!python/object:builtins.dict {}", 1, 1, "is not allowed"),
        ("a: !custom 3", 1, 4, "'!custom' is not allowed"),
        ("a: !!binary aGk=", 1, 4, "'!!binary' is not allowed"),
        ("a: &x [*x]", 1, 4, "a loop"),
        ("--- 1\n--- 2\n", 2, 1, "expected a single document"),
    ],
)
def test_yaml_problems_are_located(text, line, column, words):
    problem = problems(text)[0]
    assert (problem.line, problem.column) == (line, column) and words in problem.message, problem
    assert problem.file == "s.yaml"


def test_non_utf8_bytes_are_located():
    with pytest.raises(ScenarioError) as caught:
        distsim.loads(b"a: 1\nb: \xff\n", "s.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (2, 4) and "not UTF-8" in problem.message


def test_several_yaml_level_problems_are_reported_together():
    found = problems("a: !!binary aGk=\nb: 1\nb: 2\nc: !!set {x}\n")
    assert [(p.line, p.message.split(":")[0]) for p in found] == [(1, "cannot use this value"), (3, "duplicate key 'b' (already set above)"), (4, "cannot use this value")]


def test_merge_keys_merge_and_explicit_keys_win():
    text = GOOD.replace("strategy: {kind: ring_allreduce}",
                        "strategy:\n  - &ps {kind: parameter_server, lr: 0.5, server: dedicated}\n  - {<<: *ps, server: 0}")
    scenario, _ = distsim.loads(text)
    assert [dict(s.params) for s in scenario.strategy] == [{"lr": 0.5, "server": "dedicated"}, {"lr": 0.5, "server": 0}]
    found = problems(text.replace("lr: 0.5", "lr: -1"))
    assert [(p.dotted_path, p.line, p.column) for p in found] == [("strategy.0.lr", 6, 38), ("strategy.1.lr", 6, 38)]


def test_merged_values_point_at_the_anchor():
    text = "base: &b {workers: zero}\ncluster:\n  <<: *b\n  network: {bandwidth: 1 GB/s}\n" + GOOD.split("\n", 3)[3]
    found = {p.dotted_path: p for p in problems(text)}
    assert (found["cluster.workers"].line, found["cluster.workers"].column) == (1, 20)


def test_problems_sort_main_file_first_then_by_position():
    a = [Problem("z.yaml", ("x",), "m", 3, 1), Problem("base.yaml", ("y",), "m", 1, 1), Problem("z.yaml", ("w",), "m", 1, 5),
         Problem("z.yaml", ("w",), "m", 1, 5)]
    assert [(p.file, p.line) for p in sort_problems(a, main="z.yaml")] == [("z.yaml", 1), ("z.yaml", 3), ("base.yaml", 1)]


@pytest.mark.parametrize(
    "value, text",
    [(None, "nothing (null)"), (True, "true"), (3, "3"), (2.5, "2.5"), ("x", "'x'"), ([], "an empty list"), ([1], "a list"),
     ({}, "an empty mapping"), ({"a": 1}, "a mapping"), (10**40, "a 41-digit number"), ("y" * 100, repr("y" * 57 + "..."))],
)
def test_describe_what_was_found(value, text):
    assert describe(value) == text


# Every pydantic error type gets a sentence saying what was expected and what was found.
ERROR_TYPES = typing.get_args(ErrorType)
CONTEXT = {"gt": 0, "ge": 0, "lt": 9, "le": 9, "multiple_of": 2, "min_length": 2, "max_length": 3, "actual_length": 1,
           "field_type": "List", "expected": "'a' or 'b'", "pattern": "^x$", "error": "bad input", "class_name": "Thing",
           "attribute": "x", "method_name": "m", "discriminator": "'kind'", "tag": "t", "expected_tags": "'a'",
           "expected_schemes": "'https'", "tz_expected": 0, "expected_version": 4, "max_digits": 3, "decimal_places": 2,
           "whole_digits": 1, "class": "int", "encoding": "base64", "encoding_unit": "byte", "expected_plural": "items",
           "context": "x", "max_length_unit": "characters", "encoding_error": "bad padding", "tz_actual": 3600}


class Sample(BaseModel):
    field: int = 0


def error_for(kind: str) -> ValidationError:
    names = set(re.findall(r"\{(\w+)\}", _template(kind)))
    details = InitErrorDetails(type=kind, loc=("field",), input="zzz", ctx={n: CONTEXT.get(n, "x") for n in names})
    return ValidationError.from_exception_data("Sample", [details])


def _template(kind: str) -> str:
    for ctx in ({}, CONTEXT):
        try:
            return PydanticKnownError(kind, {k: v for k, v in ctx.items()} or None).message_template
        except (TypeError, KeyError):
            continue
    return ""


@pytest.mark.parametrize("kind", ERROR_TYPES)
def test_every_pydantic_error_type_has_a_clear_message(kind):
    where = Locations("s.yaml", points={(): (1, 1), ("field",): (2, 8)}, keys={("field",): (2, 1)})
    (problem,) = problems_from_validation(error_for(kind), where, Sample)
    assert problem.file == "s.yaml" and problem.path == ("field",) and "\n" not in problem.message
    if kind == "missing":
        assert problem.message.startswith("missing required key 'field'") and problem.line == 2 and problem.column == 1
    elif kind == "extra_forbidden":
        assert problem.message.startswith("unknown key 'field'") and problem.column == 1
    else:
        assert (problem.line, problem.column) == (2, 8)
        assert "'zzz'" in problem.message, problem.message  # what was found
        assert problem.message.startswith("expected ") or kind in ("value_error", "assertion_error"), problem.message
        assert "Input should" not in problem.message and "Value error" not in problem.message


# --- distsim validate ---

def validate(capsys, *args: str) -> tuple[int, str, str]:
    from distsim.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main(["validate", *args])
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def test_validate_reports_every_file_and_folder(tmp_path, capsys):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(GOOD.replace("workers: 4", "workers: four").replace("fp32", "fp33"))
    (tmp_path / "base.yaml").write_text(GOOD.replace("5 us", "5 uss"))
    (tmp_path / "sub").mkdir()
    for name in ("a", "b"):
        (tmp_path / "sub" / f"{name}.yaml").write_text("extends: ../base.yaml\n")
    code, out, err = validate(capsys, str(tmp_path / "good.yaml"), str(tmp_path / "bad.yaml"), str(tmp_path / "sub"),
                              str(tmp_path / "missing.yaml"))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert [line.split(": ")[3] for line in lines] == ["cluster.workers", "model.dtype", "cluster.network.latency",
                                                       "<top level>"]
    assert lines[2].startswith(f"distsim: error: {tmp_path / 'base.yaml'}:3:")  # once, though two files extend it
    assert "cannot read file: No such file or directory" in lines[3]


def test_validate_says_how_many_are_valid(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(GOOD)
    assert validate(capsys, str(tmp_path)) == (0, "2 scenarios valid\n", "")


def test_validate_an_empty_folder_is_bad_input(tmp_path, capsys):
    code, _, err = validate(capsys, str(tmp_path))
    assert code == 2 and "no scenario files" in err


@pytest.mark.parametrize("command", ["validate", "schema", "verify"])
def test_authoring_commands_explain_themselves(command):
    from click.testing import CliRunner

    from distsim.cli.main import cli

    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output and len(result.output.splitlines()) > 5
