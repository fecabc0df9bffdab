"""Read YAML safely and remember where every value came from.

``load_yaml`` returns the plain data (dicts, lists, scalars) and a ``Locations``
map from field path to (line, column), so that a validation error about
``cluster.network.bandwidth`` can point at the line the user wrote.

Only ``yaml.SafeLoader`` ever composes and constructs values, and only plain
mappings, lists and scalars are accepted: a tag that tries to build a Python
object (or any other non-standard tag) is a located error, never a constructed
value. Hostile or broken input cannot hang or crash the loader: the file size,
the nesting depth (checked while composing, before Python's recursion limit) and
the number of values after alias expansion (alias bombs) are bounded, and every
problem the reader finds is reported with its line and column.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from distsim.errors import Problem, ScenarioError

MAX_DEPTH = 64
MAX_NODES = 50_000  # values, after alias expansion; a 1,000-layer per_layer list is about 9,000
MAX_BYTES = 2_000_000

_TAG = "tag:yaml.org,2002:"
SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}
TIMESTAMP_TAG = _TAG + "timestamp"
MERGE_TAG = _TAG + "merge"


@dataclass
class Locations:
    """Field path -> (line, column) of its value and of its key, 1-based.

    ``origins`` names the file a path was written in when it is not ``file``
    (a value inherited through ``extends:``); a path not listed there is ``file``'s.
    """

    file: str
    points: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    keys: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    origins: dict[tuple, str] = field(default_factory=dict)

    def locate(self, path: tuple, at_key: bool = False) -> tuple[str, int | None, int | None]:
        """(file, line, column) of ``path``'s value, or of its key if ``at_key``.

        A path that is not written (a missing key) is located at the key of its
        closest written ancestor when ``at_key``, else at that ancestor's value.
        """
        path = tuple(path)
        if at_key:
            for ancestor in (path, path[:-1]):
                if ancestor in self.keys:
                    return (self.origins.get(ancestor, self.file), *self.keys[ancestor])
        while True:
            if path in self.points:
                return (self.origins.get(path, self.file), *self.points[path])
            if not path:
                return (self.file, None, None)
            path = path[:-1]

    def problem(self, path: tuple, message: str, at_key: bool = False) -> Problem:
        file, line, column = self.locate(path, at_key)
        return Problem(file, tuple(path), message, line, column)


def read_source(path: str | Path) -> bytes:
    """A scenario file's bytes, at most ``MAX_BYTES + 1`` of them (load_yaml then says it is too large).

    Only regular files are read: ``/dev/zero`` or a FIFO would never end. Raises OSError.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise OSError(errno.EINVAL, "not a regular file" if not path.is_dir() else "is a folder, not a file")
    with path.open("rb") as stream:
        return stream.read(MAX_BYTES + 1)


def load_yaml(text: str | bytes, file: str) -> tuple[object, Locations]:
    """Parse one YAML document; raise ScenarioError (located) if it is not readable."""
    where = Locations(file)
    text = _decode(text, where)
    _check_printable(text, file)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, where
        return _Builder(loader, where).build_document(node), where
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(s) for s in (exc.context, exc.problem) if s) or "invalid YAML"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ScenarioError([Problem(file, (), f"invalid YAML: {message}", line, column)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, (), f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise ScenarioError([Problem(file, (), f"document is nested too deeply (more than {MAX_DEPTH} levels)")]) from None
    finally:
        loader.dispose()


def _decode(text: str | bytes, where: Locations) -> str:
    if len(text) > MAX_BYTES:
        raise ScenarioError([where.problem((), f"file is larger than {MAX_BYTES:,} bytes; a scenario is a few lines")])
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, column = _line_column(text, exc.start)
            message = f"not UTF-8 text (byte 0x{text[exc.start]:02x} at offset {exc.start}); is this a YAML file?"
            raise ScenarioError([Problem(where.file, (), message, line, column)]) from None
    return text.removeprefix("\ufeff")


def _check_printable(text: str, file: str) -> None:
    """Reject control characters (binary garbage) with their position, as the YAML reader would without one."""
    match = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if match:
        line, column = _line_column(text, match.start())
        message = f"not a text file: control character {ord(match.group()):#04x}; is this a YAML file?"
        raise ScenarioError([Problem(file, (), message, line, column)])


def _line_column(text: str | bytes, offset: int) -> tuple[int, int]:
    newline = b"\n" if isinstance(text, bytes) else "\n"
    before = text[:offset]
    return before.count(newline) + 1, offset - (before.rfind(newline) + 1) + 1


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer stops at MAX_DEPTH levels (composing recurses) and MAX_NODES values
    (composing is slow: a 2 MB list of numbers would take many seconds)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH or self._nodes > MAX_NODES:
                mark = self.peek_event().start_mark
                limit = (f"nested too deeply (more than {MAX_DEPTH} levels)" if self._depth > MAX_DEPTH
                         else f"too large (more than {MAX_NODES:,} values)")
                raise yaml.composer.ComposerError(None, None, f"document is {limit}", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Builder:
    """Turn a composed node tree into data, recording each node's position and every problem."""

    def __init__(self, loader: yaml.SafeLoader, where: Locations):
        self.loader = loader
        self.where = where
        self.nodes = 0
        self.problems: list[Problem] = []
        self.open: set[int] = set()  # nodes being built: meeting one again is a recursive alias

    def build_document(self, node: yaml.Node) -> object:
        data = self.build(node, (), 0)
        if self.problems:
            raise ScenarioError(self.problems)
        return data

    def build(self, node: yaml.Node, path: tuple, depth: int) -> object:
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            limit = f"nested more than {MAX_DEPTH} levels deep" if depth > MAX_DEPTH else (
                f"larger than {MAX_NODES:,} values once aliases are expanded (an alias bomb?)")
            self.problems.append(self._problem(node, path, f"document is {limit}"))
            raise ScenarioError(self.problems)
        self.where.points[path] = _position(node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.open:
            self.problems.append(self._problem(node, path, "an alias refers to a value that contains it (a loop)"))
            raise ScenarioError(self.problems)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path, depth)
            if node.tag != _TAG + "seq":
                return self._bad_tag(node, path)
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: tuple, depth: int) -> dict | None:
        if node.tag != _TAG + "map":
            return self._bad_tag(node, path)
        start = self.where.points[path]
        result: dict = {}
        merged = [value for key, value in node.value if key.tag == MERGE_TAG]
        for value_node in merged:  # YAML merge keys (<<): explicit keys below win, then earlier merges
            for key, value in self._merge_sources(value_node, path, depth).items():
                result.setdefault(key, value)
        self.where.points[path] = start
        written: set = set()
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in written:
                self.problems.append(self._problem(key_node, path + (key,), f"duplicate key {key!r} (already set above)"))
                continue
            written.add(key)
            self.where.keys[path + (key,)] = _position(key_node)
            result[key] = self.build(value_node, path + (key,), depth + 1)
        return result

    def _merge_sources(self, node: yaml.Node, path: tuple, depth: int) -> dict:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        result: dict = {}
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self.problems.append(self._problem(source, path, "a merge key (<<) needs a mapping or a list of mappings"))
                continue
            for key, value in (self.build(source, path, depth + 1) or {}).items():
                result.setdefault(key, value)
        return result

    def _key(self, node: yaml.Node, path: tuple) -> str | int | None:
        key = self._scalar(node, path) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            found = "a mapping" if isinstance(node, yaml.MappingNode) else "a list" if isinstance(
                node, yaml.SequenceNode) else repr(key)
            self.problems.append(self._problem(node, path, f"expected a key name, found {found}"))
            return None
        return key

    def _scalar(self, node: yaml.Node, path: tuple) -> object:
        if node.tag == TIMESTAMP_TAG:
            return node.value  # a date-like value is kept as the text written (no field is a date)
        if node.tag not in SCALAR_TAGS:
            return self._bad_tag(node, path)
        try:
            value = self.loader.construct_object(node, deep=True)
            if value == 0 and isinstance(value, float) and any(c in "123456789" for c in node.value.lower().split("e")[0]):
                self.problems.append(self._problem(node, path, f"{node.value} is too small: it underflows to 0 as a double "
                                                   "(the smallest is 5e-324); write 0 if you mean zero"))
            return value
        except (yaml.YAMLError, ValueError, OverflowError, TypeError) as exc:
            reason = getattr(exc, "problem", None) or str(exc)
            if "integer string conversion" in reason:
                reason = "a number with more digits than Python reads (4300)"
            self.problems.append(self._problem(node, path, f"cannot use this value: {reason}"))
            return None

    def _bad_tag(self, node: yaml.Node, path: tuple) -> None:
        tag = node.tag.replace(_TAG, "!!", 1) if node.tag.startswith(_TAG) else node.tag
        message = (f"cannot use this value: YAML tag {tag!r} is not allowed; a scenario holds only "
                   "mappings, lists, text, numbers, true/false and null")
        self.problems.append(self._problem(node, path, message))
        return None

    def _problem(self, node: yaml.Node, path: tuple, message: str) -> Problem:
        line, column = _position(node)
        return Problem(self.where.file, path, message, line, column)


def _position(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
