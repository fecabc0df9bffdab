"""Strategies: one file per algorithm, listed in one explicit table (``registry.BUILTIN``)."""

from distsim.strategies.base import Params, Strategy
from distsim.strategies.registry import UnknownStrategy, available, describe, get

__all__ = ["Params", "Strategy", "UnknownStrategy", "available", "describe", "get"]
