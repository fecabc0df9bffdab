"""`distsim schema`: a draft-07 JSON Schema that accepts what the loader accepts; the committed docs are current."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft7Validator
from pydantic import BaseModel

import distsim
from distsim.cli.authoring import schema_json, schema_markdown, strategy_docs
from distsim.cli.main import cli
from distsim.errors import ScenarioError
from distsim.scenario.model import Scenario
from distsim.scenario.schema import scenario_schema
from distsim.scenario.units import UNITS, accepted_units

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
REGENERATE = ("regenerate it: distsim schema --builtin -o docs/scenario.schema.json && "
              "distsim schema --builtin --markdown -o docs/scenario-reference.md")


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(schema_json(builtin=True))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def test_committed_schema_is_current():
    committed = (ROOT / "docs" / "scenario.schema.json").read_text()
    assert committed == schema_json(builtin=True), f"docs/scenario.schema.json is stale; {REGENERATE}"


def test_committed_reference_is_current():
    committed = (ROOT / "docs" / "scenario-reference.md").read_text()
    assert committed == schema_markdown(builtin=True), f"docs/scenario-reference.md is stale; {REGENERATE}"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_bundled_scenario_matches_the_schema(validator, path):
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert not errors


GOOD = """\
cluster:
  workers: 4
  gpu: {flops: 19.5 TFLOP/s, memory: 40GiB}
  network: {topology: graph, bandwidth: 5e9, latency: 5e-6, switches: [s], edges: [[0, 1], {nodes: [1, s], bandwidth: 1 GB/s}, [2, s], [3, s]]}
model: {params: 7G, dtype: bf16}
strategy: [{kind: ring_allreduce, reduce_compute: true}, {kind: parameter_server, server: 0, lr: 0.5}]
run: {seed: 3, verify_payload: null}
"""


@pytest.mark.parametrize(
    "old, new",
    [
        ("workers: 4", "workerz: 4"),  # unknown key
        ("latency: 5e-6", "latency: 5 uss"),  # unknown unit
        ("memory: 40GiB", "memory: 40 KB"),  # ambiguous unit
        ("topology: graph", "topology: torus"),  # not a choice
        ("kind: ring_allreduce,", "kind: ring_allreduc,"),  # unknown strategy
        ("lr: 0.5", "lr: 0.5, chunks: 2"),  # a parameter the strategy does not have
        ("server: 0", "server: far"),  # neither 'dedicated' nor a rank
        ("dtype: bf16", "dtype: fp33"),
        ("seed: 3", "seed: three"),
        ("reduce_compute: true", "reduce_compute: maybe"),
        ("edges: [[0, 1],", "edges: [[0, 1, 2],"),
        ("strategy: [", "strategy: 3  # ["),  # neither a mapping nor a list
    ],
)
def test_loader_and_schema_reject_the_same_mistakes(validator, old, new):
    text = GOOD.replace(old, new)
    assert text != GOOD
    with pytest.raises(ScenarioError):
        distsim.loads(text)
    assert list(validator.iter_errors(yaml.safe_load(text)))


def test_the_good_scenario_passes_both(validator):
    distsim.loads(GOOD)
    assert not list(validator.iter_errors(yaml.safe_load(GOOD)))


def test_the_scenario_layer_takes_strategies_from_its_caller():
    bare = scenario_schema()
    assert bare["definitions"]["Strategy"]["required"] == ["kind"]
    full = scenario_schema(strategy_docs(builtin=True))
    refs = [ref["$ref"].split("/")[-1] for ref in full["definitions"]["Strategy"]["anyOf"]]
    kinds = [full["definitions"][ref]["properties"]["kind"]["const"] for ref in refs]
    assert kinds == list(strategy_docs(builtin=True))  # in the registry's order


def test_json_schema_is_draft07_without_2020_keywords():
    text = schema_json(builtin=True)
    assert '"$defs"' not in text and '"prefixItems"' not in text and '"ge"' not in text and '"gt"' not in text


def model_fields(model: type[BaseModel], seen=None, skip=()) -> set[str]:
    """Every field name reachable from ``model`` (but not through the fields named in ``skip``)."""
    seen = seen if seen is not None else set()
    names = set()
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        names.add(name)
        for tp in _types_in(field.annotation):
            if isinstance(tp, type) and issubclass(tp, BaseModel) and tp not in seen:
                seen.add(tp)
                names |= model_fields(tp, seen)
    return names


def _types_in(tp) -> list:
    found = [tp]
    for arg in typing.get_args(tp):
        found += _types_in(arg)
    return found


def test_the_reference_documents_every_field_strategy_and_unit():
    text = schema_markdown(builtin=True)
    for name in model_fields(Scenario, skip=("strategy",)):
        assert f"| `{name}` |" in text, name
    for name, doc in strategy_docs(builtin=True).items():
        assert f"### `kind: {name}`" in text
        for param in doc.params.model_fields:
            assert f"| `{param}` |" in text
    units = text.split("## Units", 1)[1]
    for kind in UNITS:
        for unit in accepted_units(kind):
            assert f"`{unit}`" in units, unit


def test_reference_links_point_at_headings():
    text = schema_markdown(builtin=True)
    anchors = {re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.*)$", text, re.M)}
    for link in re.findall(r"\]\(#([^)]+)\)", text):
        assert link in anchors, link


def test_schema_command_prints_and_writes(tmp_path):
    runner = CliRunner()
    printed = runner.invoke(cli, ["schema"])
    assert printed.exit_code == 0 and json.loads(printed.output)["$schema"].startswith("http://json-schema.org/draft-07")
    out = tmp_path / "ref.md"
    written = runner.invoke(cli, ["schema", "--builtin", "--markdown", "-o", str(out)])
    assert written.exit_code == 0 and out.read_text() == schema_markdown(builtin=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bundled_scenarios_point_editors_at_the_committed_schema():
    for path in SCENARIOS:
        lines = [line for line in path.read_text().splitlines() if "yaml-language-server" in line]
        for line in lines:
            target = line.split("$schema=", 1)[1].strip()
            assert (path.parent / target).resolve() == ROOT / "docs" / "scenario.schema.json"
