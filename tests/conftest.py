"""Shared helpers for the tests: build scenarios in code, run them, read their traces."""

from __future__ import annotations

import functools
import os

import pytest
from hypothesis import HealthCheck, settings

import distsim

# Hypothesis: deterministic and CI-friendly; a simulation per example is not "slow data generation".
settings.register_profile(
    "distsim", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=40
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "distsim"))


def scenario_yaml(kind: str, workers: int, params: int, *, topology: str = "switch", bandwidth: str = "100 Gbit/s",
                  latency: str = "5 us", extra: str = "", dtype: str = "fp32", seed: int = 0, verify: bool | None = None) -> str:
    """A scenario as YAML text; ``extra`` is added to the strategy mapping (e.g. ``server: 0``)."""
    strategy = f"{{kind: {kind}{', ' + extra if extra else ''}}}"
    run = f"{{seed: {seed}" + (f", verify_payload: {str(verify).lower()}" if verify is not None else "") + "}"
    return (
        f"cluster:\n  workers: {workers}\n"
        f"  network: {{topology: {topology}, bandwidth: {bandwidth}, latency: {latency}}}\n"
        f"model: {{params: {params}, dtype: {dtype}}}\n"
        f"strategy: {strategy}\nrun: {run}\n"
    )


def run_one(kind: str, workers: int, params: int, **options) -> distsim.Outcome:
    """Run one strategy and return its outcome (trace + reconciliation)."""
    scenario, where = distsim.loads(scenario_yaml(kind, workers, params, **options), f"<{kind}>")
    (outcome,) = distsim.run(scenario, where)
    return outcome


@pytest.fixture
def run():
    return run_one


@functools.lru_cache(maxsize=None)
def bundled_outcomes(path) -> tuple:
    """The outcomes of a bundled scenario, run once per test session: the bundled-scenario test and the golden
    test both check them (a 64-GPU training step costs seconds; no need to simulate it twice)."""
    return tuple(distsim.run(path))


def invoke(*args) -> tuple[int, str, str]:
    """``distsim ARGS`` in this process through the real entry point (exit codes, error lines):
    (exit code, stdout, stderr). An exception that escapes it (a traceback) fails the calling test."""
    from click.testing import CliRunner

    from distsim.cli.main import main

    with CliRunner().isolation() as (out, err, _):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue().decode(), err.getvalue().decode()
