"""Read YAML safely and remember where every value came from.

``load_yaml`` returns the plain data (dicts, lists, scalars) and a ``Locations``
map from field path to (line, column), so that a validation error about
``cluster.network.bandwidth`` can point at the line the user wrote.

Only ``yaml.SafeLoader`` ever constructs values: tags that try to build Python
objects are rejected as located errors. Limits on depth and size keep hostile or
broken input (alias bombs, deep nesting) from hanging the loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from distsim.errors import Problem, ScenarioError

MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_BYTES = 10_000_000


@dataclass
class Locations:
    """Field path -> (line, column) of its value and of its key, 1-based."""

    file: str
    points: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    keys: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def find(self, path: tuple, at_key: bool = False) -> tuple[int | None, int | None]:
        """Location of ``path`` (its key if ``at_key``), else of its closest located ancestor."""
        path = tuple(path)
        if at_key and path in self.keys:
            return self.keys[path]
        while True:
            if path in self.points:
                return self.points[path]
            if not path:
                return (None, None)
            path = path[:-1]

    def problem(self, path: tuple, message: str, at_key: bool = False) -> Problem:
        line, column = self.find(path, at_key)
        return Problem(self.file, tuple(path), message, line, column)


def load_yaml(text: str | bytes, file: str) -> tuple[object, Locations]:
    """Parse one YAML document; raise ScenarioError (located) if it is not readable."""
    where = Locations(file)
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise ScenarioError([where.problem((), f"file is larger than {MAX_BYTES} bytes")])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScenarioError([where.problem((), f"not UTF-8 text (byte {exc.start})")]) from None
    if len(text) > MAX_BYTES:
        raise ScenarioError([where.problem((), f"file is larger than {MAX_BYTES} bytes")])
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, where
        builder = _Builder(loader, where)
        return builder.build(node, (), 0), where
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(s) for s in (exc.context, exc.problem) if s) or "invalid YAML"
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise ScenarioError([Problem(file, (), f"invalid YAML: {message}", line, column)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, (), f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()


class _Builder:
    """Turn a composed node tree into data, recording each node's position."""

    def __init__(self, loader: yaml.SafeLoader, where: Locations):
        self.loader = loader
        self.where = where
        self.nodes = 0

    def build(self, node: yaml.Node, path: tuple, depth: int) -> object:
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            limit = "nested too deeply" if depth > MAX_DEPTH else "too large (alias expansion?)"
            raise ScenarioError([self._problem(node, path, f"document is {limit}")])
        self.where.points[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: tuple, depth: int) -> dict:
        self.loader.flatten_mapping(node)  # resolve YAML merge keys (<<)
        result: dict = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise ScenarioError([self._problem(key_node, path, "keys must be plain names")])
            if key in result:
                raise ScenarioError([self._problem(key_node, path + (key,), f"duplicate key {key!r}")])
            self.where.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, path + (key,), depth + 1)
        return result

    def _scalar(self, node: yaml.Node, path: tuple) -> object:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise ScenarioError([self._problem(node, path, f"cannot use this value: {exc.problem}")]) from None

    def _problem(self, node: yaml.Node, path: tuple, message: str) -> Problem:
        mark = node.start_mark
        return Problem(self.where.file, path, message, mark.line + 1, mark.column + 1)
