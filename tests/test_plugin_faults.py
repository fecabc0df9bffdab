"""A bug inside a strategy plugin ends the run with exit code 3, naming the plugin, the rank and
the file:line in the plugin's code; never a traceback, never ``"ok": true`` (issue 10, item 2).

Each broken plugin below marks the line its bug is on with a ``# bug: NAME`` comment; the tests
find that line in this file, so they pin the location the error must report.
"""

from __future__ import annotations

import math
import re
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import distsim
from conftest import scenario_yaml
from distsim.engine import faults
from distsim.errors import StrategyBug
from distsim.strategies import registry
from distsim.strategies.base import Strategy
from distsim.strategies.ring_allreduce import RingAllReduce

HERE = Path(__file__)


def line_of(tag: str) -> int:
    """The line of this file that carries ``# bug: tag``."""
    lines = HERE.read_text().splitlines()
    (number,) = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith(f"# bug: {tag}")]
    return number


class Plugin(Strategy):
    summary = "a broken test plugin"

    def programs(self, job):
        for rank in job.workers:
            yield rank, self.worker(job.context(rank), job.gradient(rank), job.world_size)

    def mean(self, ctx, gradient, n):
        """A correct all-to-all average, so that only the planted bug is wrong."""
        for k in range(1, n):
            ctx.send((ctx.rank + k) % n, gradient)
        total = gradient.copy()
        for k in range(1, n):
            total += yield ctx.recv((ctx.rank - k) % n)
        return total / n


class Raises(Plugin):
    name = "raises"

    def worker(self, ctx, gradient, n):
        result = yield from self.mean(ctx, gradient, n)
        if ctx.rank == 1:
            raise ValueError("boom")  # bug: raises
        return result


class SendsNowhere(Plugin):
    name = "sends_nowhere"

    def worker(self, ctx, gradient, n):
        ctx.send(n + 5, gradient)  # bug: sends_nowhere
        return (yield from self.mean(ctx, gradient, n))


class ReceivesFromNowhere(Plugin):
    name = "receives_from_nowhere"

    def worker(self, ctx, gradient, n):
        yield ctx.recv(-1)  # bug: receives_from_nowhere
        return gradient


class NotAGenerator(Plugin):
    name = "not_a_generator"

    def programs(self, job):
        for rank in job.workers:
            yield rank, self.worker(job.context(rank), job.gradient(rank))  # bug: not_a_generator

    def worker(self, ctx, gradient):
        return gradient


class YieldsANumber(Plugin):
    name = "yields_a_number"

    def worker(self, ctx, gradient, n):
        yield 42  # bug: yields_a_number
        return gradient


class ProgramsRaises(Plugin):
    name = "programs_raises"

    def programs(self, job):
        raise RuntimeError("no programs today")  # bug: programs_raises


class ProgramsReturnsNone(Plugin):
    name = "programs_returns_none"

    def programs(self, job):  # bug: programs_returns_none
        job.context(0)


class ExpectedRaises(Plugin):
    name = "expected_raises"

    def worker(self, ctx, gradient, n):
        return (yield from self.mean(ctx, gradient, n))

    def expected(self, gradients, weights):
        return {"mean": gradients}["average"]  # bug: expected_raises


class ReturnsNone(Plugin):
    name = "returns_none"

    def worker(self, ctx, gradient, n):  # bug: returns_none
        yield from self.mean(ctx, gradient, n)


class BadDuration(Plugin):
    duration = 0.0

    def worker(self, ctx, gradient, n):
        yield ctx.op("think", self.duration)  # bug: bad_duration
        return (yield from self.mean(ctx, gradient, n))


class NaNDuration(BadDuration):
    name, duration = "nan_duration", math.nan


class InfiniteDuration(BadDuration):
    name, duration = "infinite_duration", math.inf


class NegativeDuration(BadDuration):
    name, duration = "negative_duration", -1e-6


class OverReleases(Plugin):
    name = "over_releases"

    def worker(self, ctx, gradient, n):
        ctx.allocate(100, "scratch")
        ctx.release(101)  # bug: over_releases
        return (yield from self.mean(ctx, gradient, n))


class Livelock(Plugin):
    name = "livelock"

    def worker(self, ctx, gradient, n):
        while True:
            yield ctx.op("spin", 0.0)  # bug: livelock


class CopiesLocallyForEver(Plugin):
    """w0 and a rank on w0's node echo one tensor to each other: local copies take no time, so the clock
    would stand still for ever."""

    name = "copies_locally_for_ever"

    def extra_ranks(self):
        return [("echo", 0)]

    def programs(self, job):
        yield from super().programs(job)
        yield job.world_size, self.echo(job.context(job.world_size))

    def worker(self, ctx, gradient, n):
        while ctx.rank == 0:
            ctx.send(n, gradient)  # bug: copies_locally_for_ever
            gradient = yield ctx.recv(n)
        return (yield from self.mean(ctx, gradient, n))

    def echo(self, ctx):
        while True:
            tensor = yield ctx.recv(0)
            ctx.send(0, tensor)


class SpinsOnADoneEvent(Plugin):
    name = "spins_on_a_done_event"

    def worker(self, ctx, gradient, n):
        done = ctx.op("once", 1e-6)
        yield done
        while True:
            yield done  # bug: spins_on_a_done_event


class Frees(Plugin):
    """Not a bug: many zero-duration ops at one instant, below the livelock limit."""

    name = "frees"

    def worker(self, ctx, gradient, n):
        for _ in range(999):
            yield ctx.op("free", 0.0)
        return (yield from self.mean(ctx, gradient, n))


PLUGINS = {cls.name: cls for cls in (
    Raises, SendsNowhere, ReceivesFromNowhere, NotAGenerator, YieldsANumber, ProgramsRaises, ProgramsReturnsNone,
    ExpectedRaises, ReturnsNone, NaNDuration, InfiniteDuration, NegativeDuration, OverReleases, Livelock,
    CopiesLocallyForEver, SpinsOnADoneEvent, Frees,
)}

# plugin -> (hook it failed in or None, rank or None, the tag of the line, what the error says)
CASES = {
    "raises": (None, "w1", "raises", "ValueError: boom"),
    "sends_nowhere": (None, "w0", "sends_nowhere", "send to rank 9, which does not exist (ranks 0..3)"),
    "receives_from_nowhere": (None, "w0", "receives_from_nowhere", "receive from rank -1, which does not exist (ranks 0..3)"),
    "not_a_generator": (None, None, "not_a_generator", "programs() gave rank w0 an object of type ndarray, not a generator"),
    "yields_a_number": (None, "w0", "yields_a_number", "yielded 42 (of type int), not an event"),
    "programs_raises": ("programs()", None, "programs_raises", "RuntimeError: no programs today"),
    "programs_returns_none": (None, None, "programs_returns_none", "programs() returned None"),
    "expected_raises": ("expected()", None, "expected_raises", "KeyError: 'average'"),
    "returns_none": (None, "w0", "returns_none", "the program returned None, not its final tensor of 40 elements"),
    "nan_duration": (None, "w0", "bad_duration", "op 'think' lasts nan s"),
    "infinite_duration": (None, "w0", "bad_duration", "op 'think' lasts inf s"),
    "negative_duration": (None, "w0", "bad_duration", "op 'think' lasts -1e-06 s"),
    "over_releases": (None, "w0", "over_releases", "releases 101 bytes but holds 100"),
    "livelock": (None, "w0", "livelock", "more than 1,000 zero-duration ops in a row at t=0 s (the last 'spin'): a livelock"),
    "copies_locally_for_ever": (None, "w0", "copies_locally_for_ever",
                                "sent more than 1,000 local copies (to ranks on its node) in a row at t=0 s"),
    "spins_on_a_done_event": (None, "w0", "spins_on_a_done_event",
                              "resumed more than 1,000 times in a row without simulated time passing"),
}


@pytest.fixture
def plugins(monkeypatch):
    """Every broken plugin above, installed as if through the entry-point group."""
    entries = [EntryPoint(name, f"{__name__}:{cls.__name__}", registry.ENTRY_POINT_GROUP) for name, cls in PLUGINS.items()]
    monkeypatch.setattr(registry, "entry_points", lambda group: entries if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(faults, "ZERO_TIME_LIMIT", 1000)  # the default (a million) takes seconds to reach


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bug_in_a_plugin_is_exit_3_naming_the_plugin_the_rank_and_the_line(plugins, name):
    during, rank, tag, what = CASES[name]
    with pytest.raises(StrategyBug) as caught:
        distsim.run(*distsim.loads(scenario_yaml(name, 4, 40, verify=True)))
    message = str(caught.value)
    assert caught.value.exit_code == 3 and "\n" not in message
    head = f"plugin '{name}' ({__name__}:{PLUGINS[name].__name__}) failed"
    head += (f" in {during}" if during else "") + (f" on rank {rank}" if rank else "")
    assert message.startswith(f"{head} at "), message
    assert f"{HERE.name}:{line_of(tag)}: {what}" in message, message


@pytest.mark.parametrize("verify", [True, False])
def test_a_worker_that_returns_none_fails_with_or_without_payloads(plugins, verify):
    with pytest.raises(StrategyBug, match="returned None"):
        distsim.run(*distsim.loads(scenario_yaml("returns_none", 3, 30, verify=verify)))


def test_the_command_prints_one_line_and_exits_3(plugins, tmp_path, capsys):
    from distsim.cli.main import main

    path = tmp_path / "bug.yaml"
    path.write_text(scenario_yaml("raises", 4, 40))
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 3
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert re.search(rf"plugin 'raises' .* on rank w1 at .*{HERE.name}:{line_of('raises')}: ValueError: boom", err), err


def test_a_sweep_point_with_a_plugin_bug_is_an_error_row_naming_the_line(plugins):
    from distsim.sweep.point import run_point

    row = run_point(scenario_yaml("nan_duration", 2, 20), "bug.yaml")
    assert row["ok"] == "false" and f"{HERE.name}:{line_of('bad_duration')}" in row["error"], row


def test_a_bug_in_a_builtin_strategy_names_the_strategy_and_its_line(monkeypatch):
    def broken_worker(self, ctx, gradient, n):
        yield ctx.op("x", 1e-6)
        return gradient[n * 1000]  # bug: builtin

    monkeypatch.setattr(RingAllReduce, "worker", broken_worker)
    with pytest.raises(StrategyBug) as caught:
        distsim.run(*distsim.loads(scenario_yaml("ring_allreduce", 3, 30, verify=True)))
    message = str(caught.value)
    assert message.startswith("strategy 'ring_allreduce' failed on rank w0 at "), message
    assert f"{HERE.name}:{line_of('builtin')}: IndexError" in message, message


def test_a_long_error_message_from_a_plugin_stays_one_short_line(plugins, monkeypatch):
    def worker(self, ctx, gradient, n):
        yield ctx.op("x", 1e-6)
        raise ValueError("line one\nline two " + "x" * 5000)

    monkeypatch.setattr(Raises, "worker", worker)
    with pytest.raises(StrategyBug) as caught:
        distsim.run(*distsim.loads(scenario_yaml("raises", 2, 20)))
    message = str(caught.value)
    assert "\n" not in message and len(message) < 600 and "line one line two" in message


def test_correct_zero_duration_ops_below_the_limit_are_fine(plugins):
    (outcome,) = distsim.run(*distsim.loads(scenario_yaml("frees", 2, 20, verify=True)))
    assert outcome.ok and outcome.result.verified
    assert len(outcome.trace.ops) == 2 * 999


# -- plugins that do not load ---------------------------------------------------------------------------


@pytest.fixture
def broken_plugins(monkeypatch, tmp_path):
    """Three plugins that cannot be loaded: a missing module, a module that raises on import, a non-class."""
    (tmp_path / "explodes_on_import.py").write_text("raise RuntimeError('cannot import me')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entries = [
        EntryPoint("missing_module", "no_such_module_for_distsim:Strategy", registry.ENTRY_POINT_GROUP),
        EntryPoint("explodes", "explodes_on_import:Strategy", registry.ENTRY_POINT_GROUP),
        EntryPoint("not_a_class", "json:dumps", registry.ENTRY_POINT_GROUP),
        EntryPoint("raises", f"{__name__}:Raises", registry.ENTRY_POINT_GROUP),  # one that loads
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: entries if group == registry.ENTRY_POINT_GROUP else [])
    yield
    import sys

    sys.modules.pop("explodes_on_import", None)


def _main(capsys, *args):
    from distsim.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def test_strategies_lists_broken_plugins_as_broken_and_the_rest_as_usual(broken_plugins, capsys):
    code, out, err = _main(capsys, "strategies")
    assert code == 0 and "Traceback" not in err, err
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert "ring_allreduce" in rows and "raises" in rows and "BROKEN" not in rows["raises"]
    assert "BROKEN" in rows["missing_module"] and "No module named 'no_such_module_for_distsim'" in rows["missing_module"]
    assert "BROKEN" in rows["explodes"] and "RuntimeError: cannot import me" in rows["explodes"]
    assert "BROKEN" in rows["not_a_class"] and "not a strategy class" in rows["not_a_class"]


def test_schema_leaves_broken_plugins_out(broken_plugins, capsys):
    import json

    code, out, err = _main(capsys, "schema")
    assert code == 0, err
    definitions = json.loads(out)["definitions"]
    assert "strategy:raises" in definitions and "strategy:ring_allreduce" in definitions
    assert not {"strategy:missing_module", "strategy:explodes", "strategy:not_a_class"} & set(definitions)


def test_runs_that_do_not_use_a_broken_plugin_are_not_affected(broken_plugins, tmp_path, capsys):
    path = tmp_path / "ring.yaml"
    path.write_text(scenario_yaml("ring_allreduce", 3, 30))
    code, out, err = _main(capsys, "run", str(path))
    assert code == 0, err


@pytest.mark.parametrize("name, why", [
    ("missing_module", "ModuleNotFoundError: No module named 'no_such_module_for_distsim'"),
    ("explodes", "RuntimeError: cannot import me"),
    ("not_a_class", "is not a strategy class"),
])
def test_a_run_that_uses_a_broken_plugin_is_a_located_input_error(broken_plugins, tmp_path, capsys, name, why):
    path = tmp_path / "uses.yaml"
    path.write_text(scenario_yaml(name, 3, 30))
    code, _, err = _main(capsys, "run", str(path))
    assert code == 2 and "Traceback" not in err, err
    assert f"{path}:5:" in err and "strategy.kind" in err and f"plugin '{name}'" in err and why in err, err
