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

import json
import os
import re
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
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
# Values at the edges of what a field accepts, for values inside flow mappings ({seed: 0} -> {seed: -1}).
EDGES = ["-1", "0", "-0.0", "1", "2", "3", "99", "1e308", "5e-324", "1.0e-400", "'1e-400 s'", "'٣'", "1e15", "1048576",
         "65537", "1000001", "true", "null", "'5 uss'", "[]", "{}", "dedicated", "graph", "fully_connected", "[[0, sw]]",
         "ring_allreduce", "optimal", "'1 GiB'", "'5e-324 B/s'", "'1 FLOPS'", "1e-9"]
KEYS = ["cluster", "model", "strategy", "run", "sweep", "extends", "workers", "network", "bandwidth", "latency",
        "topology", "edges", "params", "dtype", "kind", "server", "lr", "seed", "verify_payload", "gpu", "memory",
        "disk", "layers", "layer", "<<", "cluster.workers", "1", "-", "?", ":"]


def mutate(text: str, draw) -> str:
    lines = text.splitlines()
    kind = draw(st.sampled_from(["value", "value", "flow", "flow", "line", "chars", "indent", "key", "duplicate"]))
    if not lines:
        return text
    i = draw(st.integers(0, len(lines) - 1))
    flow = list(re.finditer(r"(?:(?<=\{)|(?<=, ))(\w+): ([^,}]+)", lines[i]))
    if kind == "flow" and flow:
        match = draw(st.sampled_from(flow))
        lines[i] = lines[i][: match.start(2)] + draw(st.sampled_from(EDGES + HOSTILE)) + lines[i][match.end(2):]
    elif kind == "value" and ":" in lines[i]:
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


# --- issue 10: validate, run and sweep agree on thousands of mutants, with no traceback and strict JSON ---
#
# The bundled scenarios, shrunk to sizes that simulate in milliseconds, are mutated as above and
# each mutant goes through `validate` (sweep.check.check_file), `run` (api.run) and, when it has a
# sweep: block, `sweep` (run_sweep, serially). The size limits are lowered while fuzzing, so that a
# mutant that would be large is a quick limit refusal (which is then checked like any problem).

FUZZ_LIMITS = {"MAX_MESSAGES": 20_000, "MAX_OPS": 100_000, "MAX_RANKS": 64, "MAX_POINTS": 12}
# CI: a fixed set of examples (derandomized). To hunt for new failures, raise the count and draw new ones:
#   DISTSIM_FUZZ_EXAMPLES=20000 DISTSIM_FUZZ_RANDOM=1 python -m pytest tests/test_fuzz_loader.py -k mutants
EXAMPLES = int(os.environ.get("DISTSIM_FUZZ_EXAMPLES", "1500"))
DERANDOMIZE = not os.environ.get("DISTSIM_FUZZ_RANDOM")
AGREEMENT = settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
THROUGH_CLI = settings(max_examples=max(EXAMPLES // 5, 1), deadline=None, derandomize=DERANDOMIZE,
                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def shrink(text: str) -> str:
    """A bundled scenario at a size that runs in milliseconds (same keys, same structure)."""
    text = re.sub(r"\bworkers: \d+", "workers: 4", text)
    text = re.sub(r"\bnodes: \d+", "nodes: 2", text)
    text = re.sub(r"\bpreset: gpt-\w+", "preset: gpt-tiny", text)
    text = re.sub(r"\bparams: [\w.]+", "params: 2000", text)
    text = re.sub(r"\blayers: (\d+)", lambda m: f"layers: {min(int(m[1]), 24)}", text)
    text = re.sub(r"cluster\.nodes: \[[^\]]*\]", "cluster.nodes: [1, 2]", text)
    return re.sub(r"cluster\.workers: \[[^\]]*\]", "cluster.workers: [2, 4]", text)


SMALL = [shrink(text) for text in BUNDLED]


@st.composite
def small_mutants(draw) -> str:
    text = draw(st.sampled_from(SMALL))
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):  # mostly one: a second often hides the first's effect
        text = mutate(text, draw)
    return text


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    from unittest import mock

    from distsim import estimate

    with mock.patch.multiple(estimate, **FUZZ_LIMITS):
        yield tmp_path_factory.mktemp("fuzz-agreement")


def verdict(action):
    """('ok', value), ('input', problems) or ('simulation', error); anything else escapes: a traceback fails."""
    from distsim.errors import InputError, SimulationError

    try:
        with no_hang(60):
            return "ok", action()
    except ScenarioError as exc:
        return "input", exc.problems
    except InputError as exc:
        return "input", [str(exc)]
    except SimulationError as exc:
        return "simulation", exc


def assert_located(problems, path: Path) -> None:
    for problem in problems:
        assert isinstance(problem, distsim.errors.Problem), problem
        assert problem.file == str(path) and problem.message and "\n" not in problem.message, problem
        assert "Traceback" not in problem.message and "object at 0x" not in problem.message, problem
        assert problem.line is not None or any(words in problem.message for words in UNLOCATED), problem


def check_agreement(text: str, folder: Path) -> tuple[str, str, str | None]:
    """Validate, run and sweep one mutant; assert they agree. Returns the three verdicts' kinds."""
    from distsim import api, strict_json
    from distsim.report.summary import outcome_dict
    from distsim.sweep import run_sweep
    from distsim.sweep.check import check_file
    from distsim.sweep.executors import run_serial

    path = folder / NAME
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    valid, checked = verdict(lambda: check_file(path))
    ran, result = verdict(lambda: api.run(path))
    assert valid in ("ok", "input") and ran in ("ok", "input", "simulation")
    has_sweep = valid == "ok" and bool(checked[0].sweep)
    swept, rows = verdict(lambda: run_sweep(path, run_tasks=run_serial)) if has_sweep else (None, None)
    for kind, found in ((valid, checked), (ran, result), (swept, rows)):
        if kind == "input":
            assert_located(found, path)
    if valid == "ok":  # validate accepts exactly what run and sweep accept
        assert ran != "input", result
        assert swept in (None, "ok", "simulation"), rows
    else:
        from_sweep = [p for p in checked if p.path[:1] == ("sweep",) or p.message.startswith("at sweep point")]
        assert ran == "input" or from_sweep, (checked, result)  # run does not expand a sweep: block; sweep does
        if ran == "input" and not from_sweep:
            assert sorted(p.one_line() for p in checked) == sorted(p.one_line() for p in result)
    if ran == "ok":  # strict JSON: no NaN or Infinity in what --json prints
        strict_json.dumps([outcome_dict(outcome) for outcome in result])
    if swept == "ok":
        assert len(rows.rows) == len(checked[2]) and all(row["ok"] in ("true", "false") for row in rows.rows)
    return valid, ran, swept


@AGREEMENT
@given(text=small_mutants())
def test_validate_run_and_sweep_agree_on_mutants(fuzz_dir, text):
    valid, ran, swept = check_agreement(text, fuzz_dir)
    event(f"validate {valid}, run {ran}" + (f", sweep {swept}" if swept else ""))  # --hypothesis-show-statistics


def test_every_shrunk_bundled_scenario_is_valid_and_runs(fuzz_dir):
    for text in SMALL:
        assert check_agreement(text, fuzz_dir)[:2] == ("ok", "ok"), text


LOCATED = re.compile(r"^distsim: error: (?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): .+: .+$")  # a key may hold spaces


@THROUGH_CLI
@given(text=small_mutants())
def test_mutants_through_the_command_line(fuzz_dir, text):
    from conftest import invoke

    path = fuzz_dir / NAME
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    results = {command: invoke(*args) for command, args in {
        "validate": ("validate", path), "run": ("run", path, "--json"), "sweep": ("sweep", path, "-j", "1")}.items()}
    for command, (code, out, err) in results.items():
        assert code in (0, 1, 2, 3) and "Traceback" not in out + err, (command, code, err)
        if code == 2:
            lines = err.strip().splitlines()
            assert lines and all(LOCATED.match(line) and LOCATED.match(line)["file"] == str(path)
                                 or any(w in line for w in UNLOCATED) for line in lines), (command, err)
    code, out, _ = results["run"]
    if code in (0, 1):
        json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in --json output"))
    swept, _, sweep_err = results["sweep"]
    sweep_refused = swept == 2 and "has no 'sweep:' block" not in sweep_err  # sweep needs a block; run does not
    assert (results["validate"][0] == 2) == (code == 2 or sweep_refused), results
