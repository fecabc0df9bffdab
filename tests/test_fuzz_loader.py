"""Fuzzing the scenario loader: whatever the input, a ScenarioError with located problems, never a crash or a hang.

Inputs: random bytes and text, random YAML documents, bundled scenarios mutated
(characters, lines, values swapped for wrong types, huge numbers, hostile tags,
aliases, deep nesting), and fixed attacks (alias bombs, deep nesting, tags that
would construct Python objects). Each example is guarded by an alarm, so a hang
fails the test instead of stalling CI; the guard is generous and is not a timing
assertion. A sample goes through the real command line: exit code 2, one
``distsim: error: FILE:LINE:COL: path: message`` line per problem, no traceback.
"""

from __future__ import annotations

import re
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import distsim
from distsim.cli.main import main
from distsim.errors import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = [p.read_text() for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
NAME = "fuzz.yaml"
FUZZ = settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
UNLOCATED = ("an empty file", "larger than")  # the only problems that cannot have a line
LINE = re.compile(r"^distsim: error: (?P<file>[^:]+)(:(?P<line>\d+):(?P<column>\d+))?: (?P<path><top level>|[^ ]+): (?P<message>.+)$")


class Hang(Exception):
    pass


@contextmanager
def no_hang(seconds: int = 20):
    """Fail (not stall) if the body runs longer than ``seconds``: a hang guard, not a timing test."""
    def alarm(signum, frame):
        raise Hang(f"the loader ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(text: str | bytes) -> list:
    """The loader's problems for ``text`` ([] when it is a valid scenario); any other exception fails."""
    with no_hang():
        try:
            distsim.loads(text, NAME)
        except ScenarioError as exc:
            assert exc.problems, "a ScenarioError must carry its problems"
            check_problems(exc.problems, text)
            return exc.problems
    return []


def check_problems(problems, text) -> None:
    lines = (text.count(b"\n" if isinstance(text, bytes) else "\n") + 1) if text else 1
    for problem in problems:
        assert problem.file == NAME and problem.message and "\n" not in problem.message, problem
        assert "Traceback" not in problem.message and "object at 0x" not in problem.message, problem
        if problem.line is None:
            assert any(words in problem.message for words in UNLOCATED), problem
        else:
            assert 1 <= problem.line <= lines + 1 and problem.column >= 1, (problem, lines)


# --- values that break things: wrong types, huge numbers, hostile YAML ---

HOSTILE = [
    "[]", "{}", "null", "~", "true", "-1", "0", "1e999", "1.0e+999", "-.inf", ".nan", "9" * 5000, "9" * 400,
    "0x7fffffffffffffffffff", "1000001", "4294967297", "1e15", "1:30:00", "2001-13-45", "'5 uss'", "5 KB", "\"\\x00\"", "!!binary aGk=",
    "!!python/object/apply:os.system [echo pwned]", "!!python/name:os.system", "!!python/object:object {}",
    "!!set {a, b}", "!!omap [a: 1]", "!custom 3", "*undefined", "&a [*a]", "{<<: [1, 2]}", "[" * 200 + "]" * 200,
    "{a: {b: {c: {d: {e: {f: {g: {h: {i: {j: {k: {l: {m: {n: {o: 1}}}}}}}}}}}}}}}", "\"" + "x" * 10_000 + "\"",
    "? [a, b]\n: 1", "|\n  multi\n  line", "'unterminated", "{kind: [ring_allreduce]}", "[{kind: nope}]",
    "{kind: parameter_server, server: 99}", "extends.yaml", "/dev/zero", "..",
]
KEYS = ["cluster", "model", "strategy", "run", "sweep", "extends", "workers", "network", "bandwidth", "latency",
        "topology", "edges", "params", "dtype", "kind", "server", "lr", "seed", "verify_payload", "gpu", "memory",
        "disk", "layers", "layer", "<<", "cluster.workers", "1", "-", "?", ":"]


def mutate(text: str, draw) -> str:
    lines = text.splitlines()
    kind = draw(st.sampled_from(["value", "value", "line", "chars", "indent", "key", "duplicate"]))
    if not lines:
        return text
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "value" and ":" in lines[i]:
        head = lines[i].split(":", 1)[0]
        lines[i] = f"{head}: {draw(st.sampled_from(HOSTILE))}"
    elif kind == "line":
        del lines[i]
    elif kind == "chars" and lines[i]:
        j = draw(st.integers(0, len(lines[i])))
        lines[i] = lines[i][:j] + draw(st.text(max_size=5)) + lines[i][j + draw(st.integers(0, 3)):]
    elif kind == "indent":
        lines[i] = draw(st.sampled_from(["", " ", "    ", "\t"])) + lines[i].lstrip()
    elif kind == "key" and ":" in lines[i]:
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        lines[i] = indent + draw(st.sampled_from(KEYS)) + ":" + lines[i].split(":", 1)[1]
    else:
        lines.insert(i, lines[i])
    return "\n".join(lines) + "\n"


@st.composite
def mutated_scenarios(draw) -> str:
    text = draw(st.sampled_from(BUNDLED))
    for _ in range(draw(st.integers(1, 4))):
        text = mutate(text, draw)
    return text


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**20),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), st.sampled_from(HOSTILE))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=5)),
    max_leaves=25)


@st.composite
def scenario_shaped(draw) -> dict:
    """A scenario's tree with random values at random places."""
    base = yaml.safe_load(draw(st.sampled_from(BUNDLED)))
    for _ in range(draw(st.integers(1, 3))):
        node = base
        while isinstance(node, dict) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node, key=str)))
            if not isinstance(node[key], dict):
                break
            node = node[key]
        if isinstance(node, dict):
            node[draw(st.sampled_from(KEYS + sorted(node, key=str)))] = draw(documents)
    return base


# --- the properties ---

@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    outcome(data)


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text):
    outcome(text)


@FUZZ
@given(documents)
def test_random_yaml_documents(document):
    text = yaml.safe_dump(document, allow_unicode=True)
    assert outcome(text) or isinstance(document, dict)


@FUZZ
@given(scenario_shaped())
def test_scenarios_with_random_values(document):
    outcome(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


@FUZZ
@given(mutated_scenarios())
def test_mutated_bundled_scenarios(text):
    problems = outcome(text)
    for problem in problems:
        assert problem.line is not None or any(words in problem.message for words in UNLOCATED)


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.one_of(mutated_scenarios(), st.binary(max_size=100)))
def test_through_the_command_line(tmp_path_factory, capsys, text):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / NAME
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    with no_hang(), pytest.raises(SystemExit) as exited:
        main(["validate", str(path)])
    err = capsys.readouterr().err
    assert exited.value.code in (0, 2), err
    assert "Traceback" not in err
    if exited.value.code == 2:
        for line in err.splitlines():
            match = LINE.match(line)
            assert match and match["file"] == str(path), line


# --- fixed attacks ---

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


@pytest.mark.parametrize(
    "text, words",
    [
        (BILLION_LAUGHS, "alias bomb"),
        ("base: &b {<<: [" + ", ".join(["*x"] * 2) + "]}\n", "found undefined alias"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("{a: " * 5_000 + "1" + "}" * 5_000, "nested too deeply"),
        ("- " * 2_000 + "x", "nested too deeply"),
        ("a: &a [*a]", "a loop"),
        ("a: &a {<<: *a}", "a loop"),
        ("!!python/object/apply:os.system ['touch /tmp/distsim-pwned']", "is not allowed"),
        ("a: !!python/object/new:os.system [echo]", "is not allowed"),
        ("a: !!python/module:os", "is not allowed"),
        ("x" * 3_000_000, "larger than"),
        ("\x00\x01\x02", "control character"),
    ],
)
def test_attacks_end_in_one_clear_problem(text, words):
    problems = outcome(text)
    assert problems and words in problems[0].message, problems
    assert not Path("/tmp/distsim-pwned").exists()


def test_yaml_is_only_loaded_with_safe_loaders():
    """No module calls yaml.load / full_load / unsafe_load, or names an unsafe loader."""
    unsafe = re.compile(r"yaml\.(load|full_load|unsafe_load|load_all)\(|yaml\.(Full|Unsafe)?Loader\b|UnsafeLoader|FullLoader")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "distsim").rglob("*.py") if unsafe.search(p.read_text())]
    assert not offenders
