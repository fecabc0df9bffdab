"""Check a scenario file the way ``run`` and ``sweep`` would, without running it: ``distsim validate``.

One code path, not a parallel one: the file is loaded by the API (the strategies
and their parameters, what each family needs, where ranks go, the limits), and
every point of its ``sweep:`` block is built and validated exactly as ``distsim
sweep`` builds it, its problems located at the sweep value in the user's file.
"""

from __future__ import annotations

from pathlib import Path

from distsim import api
from distsim.scenario import Locations, Scenario
from distsim.sweep.grid import Point, expand


def check_file(path: str | Path, force: bool = False) -> tuple[Scenario, Locations, list[Point]]:
    """The scenario, its locations and its sweep points (none without a sweep block); ScenarioError lists
    every problem that ``run`` or ``sweep`` would refuse the file for (``force``: as with their --force)."""
    scenario, where = api.load(path, force)
    points = expand(scenario, where, force) if scenario.sweep else []
    return scenario, where, points
