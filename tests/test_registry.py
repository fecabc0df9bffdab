"""The strategy table: explicit built-ins, and third-party plugins through entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

import distsim
from conftest import scenario_yaml
from distsim.strategies import Strategy, registry
from distsim.strategies.ring_allreduce import RingAllReduce


class EchoRing(RingAllReduce):
    """A plugin: the ring, under another name (proves plugins run end to end)."""

    name = "echo_ring"
    summary = "a test plugin"


def test_builtin_table_lists_each_strategy_once_with_a_summary():
    names = [cls.name for cls in registry.BUILTIN]
    assert len(names) == len(set(names))
    assert all(cls.summary for cls in registry.BUILTIN)


def test_a_plugin_from_an_entry_point_runs(monkeypatch):
    entry = EntryPoint("echo_ring", f"{__name__}:EchoRing", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry] if group == registry.ENTRY_POINT_GROUP else [])
    assert "echo_ring" in registry.available()
    (outcome,) = distsim.run(*distsim.loads(scenario_yaml("echo_ring", 4, 40)))
    assert len(outcome.trace.messages) == 24 and outcome.result.verified


def test_a_plugin_cannot_shadow_a_builtin(monkeypatch):
    entry = EntryPoint("ring_allreduce", f"{__name__}:EchoRing", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry])
    assert registry.get("ring_allreduce") is RingAllReduce


def test_an_entry_point_that_is_not_a_strategy_is_a_clear_error(monkeypatch):
    entry = EntryPoint("broken", "json:dumps", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry])
    with pytest.raises(distsim.DistsimError, match="is not a strategy class"):
        registry.get("broken")


def test_a_strategy_is_a_strategy():
    assert issubclass(RingAllReduce, Strategy)


def test_the_example_in_adding_a_strategy_md_runs_as_a_plugin(monkeypatch, tmp_path):
    import re
    import sys
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "adding-a-strategy.md").read_text()
    code = re.search(r"```python\n(# distsim/strategies/tree_allreduce.py.*?)```", doc, re.S).group(1)
    (tmp_path / "doc_tree_allreduce.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = EntryPoint("tree_allreduce", "doc_tree_allreduce:TreeAllReduce", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry])
    for n in (2, 5, 8):
        (outcome,) = distsim.run(*distsim.loads(scenario_yaml("tree_allreduce", n, 100)))
        assert len(outcome.trace.messages) == 2 * (n - 1) and outcome.result.verified
    sys.modules.pop("doc_tree_allreduce", None)


class ForgetfulRing(RingAllReduce):
    """A broken plugin: it passes chunks on but never adds what it receives."""

    name = "forgetful_ring"
    summary = "a ring that forgets to reduce"

    def worker(self, ctx, gradient, n):
        rank = ctx.rank
        for step in range(2 * (n - 1)):
            yield ctx.sendrecv((rank + 1) % n, gradient[:1], (rank - 1) % n, "oops", step)
        return gradient


def test_a_schedule_that_computes_the_wrong_result_fails_the_run_loudly(monkeypatch):
    entry = EntryPoint("forgetful_ring", f"{__name__}:ForgetfulRing", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry])
    with pytest.raises(distsim.SimulationError, match="payload check failed: 4 of 4 workers") as err:
        distsim.run(*distsim.loads(scenario_yaml("forgetful_ring", 4, 40)))
    assert err.value.exit_code == 3
