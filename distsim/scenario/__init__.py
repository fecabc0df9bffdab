"""Scenarios: YAML -> validated, frozen models with located errors. The lowest layer."""

from distsim.scenario.load import load_scenario, parse_scenario
from distsim.scenario.model import Scenario, StrategySpec
from distsim.scenario.source import Locations

__all__ = ["Locations", "Scenario", "StrategySpec", "load_scenario", "parse_scenario"]
