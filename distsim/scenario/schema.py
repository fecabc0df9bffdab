"""The JSON Schema of a scenario *as written*, for editors (yaml-language-server) and the reference.

It is generated from the same pydantic models that validate scenarios, then
adjusted to what a user types rather than what the models hold:

* a quantity is a number or text with a unit (``5 us``): see :class:`~distsim.scenario.units.Quantity`;
* ``strategy`` is one mapping or a list of them, each ``{kind: NAME, ...parameters}``,
  with the parameters of every registered strategy. This layer knows no strategy:
  the caller passes their parameter models (``distsim schema`` does);
* ``extends`` names a base file.

The dialect is JSON Schema draft-07 (``definitions``, array ``items`` for tuples),
which yaml-language-server and most editors understand best.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from distsim.scenario.model import Scenario

DRAFT = "http://json-schema.org/draft-07/schema#"
REF = "#/definitions/{model}"


@dataclass(frozen=True)
class StrategyDoc:
    """What the schema needs to know about one strategy."""

    params: type[BaseModel]  # its parameter model
    summary: str = ""
    family: str = ""


def scenario_schema(strategies: Mapping[str, StrategyDoc] | None = None) -> dict:
    """The draft-07 JSON Schema of a scenario file, with each strategy of ``strategies`` described."""
    schema = Scenario.model_json_schema(ref_template=REF)
    definitions = schema.pop("$defs", {})
    definitions.pop("StrategySpec", None)
    strategy_refs = []
    for name, doc in (strategies or {}).items():  # in registry order
        definitions[f"strategy:{name}"] = _strategy_definition(name, doc, definitions)
        strategy_refs.append({"$ref": REF.format(model=f"strategy:{name}")})
    one = {"anyOf": strategy_refs} if strategy_refs else _any_strategy()
    definitions["Strategy"] = {"description": "one strategy: its kind and that strategy's own parameters", **one}
    properties = schema["properties"]
    properties["strategy"] = {
        "description": "the strategy to run, or a list of strategies to run one after another on the same cluster",
        "anyOf": [{"$ref": REF.format(model="Strategy")},
                  {"type": "array", "items": {"$ref": REF.format(model="Strategy")}, "minItems": 1}],
    }
    properties["extends"] = {
        "type": "string",
        "description": "path of a base scenario (relative to this file) whose keys this file overrides",
    }
    result = {"$schema": DRAFT, **schema, "title": "distsim scenario",
              "description": "A distsim scenario: hardware (cluster), workload (model), strategy and run options.",
              "definitions": dict(sorted(definitions.items()))}
    return _draft07(result)


def _strategy_definition(name: str, doc: StrategyDoc, definitions: dict) -> dict:
    params = doc.params.model_json_schema(ref_template=REF)
    for key, value in params.pop("$defs", {}).items():
        if key in definitions and definitions[key] != value:
            raise ValueError(f"strategy {name!r} defines {key!r} differently from another model")
        definitions[key] = value
    properties = {"kind": {"const": name, "description": doc.summary or f"the {name} strategy"}}
    properties.update(params.get("properties", {}))
    return {
        "type": "object",
        "title": name,
        "description": doc.summary,
        "properties": properties,
        "required": ["kind", *params.get("required", [])],
        "additionalProperties": False,
        **({"x-family": doc.family} if doc.family else {}),
    }


def _any_strategy() -> dict:
    return {"type": "object", "properties": {"kind": {"type": "string", "description": "the strategy's name"}},
            "required": ["kind"]}


def _draft07(node: object) -> object:
    """Rewrite the 2020-12 forms pydantic emits into draft-07 ones, and drop generated titles."""
    if isinstance(node, list):
        return [_draft07(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = copy.copy(node)
    if "prefixItems" in node:
        node["items"] = node.pop("prefixItems")
        node.setdefault("additionalItems", False)
    if isinstance(node.get("properties"), dict):
        node["properties"] = {k: _untitled(_draft07(v)) for k, v in node["properties"].items()}
    return {k: (v if k == "properties" else _draft07(v)) for k, v in node.items()}


def _untitled(field: object) -> object:
    """A field's generated title ('Load Latency') only repeats its key; editors show the description."""
    if isinstance(field, dict):
        field = {k: v for k, v in field.items() if k != "title"}
    return field
