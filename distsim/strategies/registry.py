"""The strategy table: name -> class, with a one-line summary; `distsim strategies` prints it.

The table is explicit (SimGrid lists its collectives the same way): adding a
built-in strategy means adding its class to ``BUILTIN``. Third-party packages add
theirs without touching distsim, through the entry-point group
``distsim.strategies`` (see docs/adding-a-strategy.md)::

    [project.entry-points."distsim.strategies"]
    my_allreduce = "my_package.my_module:MyAllReduce"
"""

from __future__ import annotations

from importlib.metadata import entry_points

from distsim.errors import DistsimError
from distsim.strategies.all_to_all import AllToAll
from distsim.strategies.base import Strategy
from distsim.strategies.checkpoint_every_k import CheckpointEveryK
from distsim.strategies.checkpoint_sequential import CheckpointSequential
from distsim.strategies.collective import Collective
from distsim.strategies.disk_offload import DiskOffload
from distsim.strategies.optimal import Optimal
from distsim.strategies.parameter_server import ParameterServer
from distsim.strategies.ring_allreduce import RingAllReduce
from distsim.strategies.segment_recompute import SegmentRecompute
from distsim.strategies.store_all import StoreAll

ENTRY_POINT_GROUP = "distsim.strategies"

BUILTIN: tuple[type, ...] = (
    AllToAll,
    ParameterServer,
    RingAllReduce,
    Collective,
    StoreAll,
    CheckpointEveryK,
    SegmentRecompute,
    CheckpointSequential,
    DiskOffload,
    Optimal,
)


class UnknownStrategy(DistsimError, KeyError):
    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, known
        super().__init__(name)


def available() -> dict[str, type]:
    """Every strategy by name: built-ins first, then installed plugins (which cannot shadow a built-in)."""
    table = {cls.name: cls for cls in BUILTIN}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry.name not in table:
            table[entry.name] = _LazyPlugin(entry)
    return table


def get(name: str) -> type:
    """The strategy class called ``name``; UnknownStrategy (with the known names) if none is."""
    for cls in BUILTIN:  # built-ins cannot be shadowed: no need to scan the installed plugins (~4 ms)
        if cls.name == name:
            return cls
    table = available()
    if name not in table:
        raise UnknownStrategy(name, sorted(table))
    found = table[name]
    return found.load() if isinstance(found, _LazyPlugin) else found


class _LazyPlugin:
    """A plugin's entry point, imported only when the strategy is used or listed."""

    def __init__(self, entry):
        self.entry = entry
        self.name = entry.name

    def load(self) -> type:
        cls = self.entry.load()
        if not (isinstance(cls, type) and hasattr(cls, "programs") and hasattr(cls, "summary")):
            raise DistsimError(f"plugin {self.entry.value!r} for strategy {self.name!r} is not a strategy class")
        return cls


def describe() -> list[tuple[str, str, str]]:
    """(name, family, summary) for every strategy, in table order."""
    rows = []
    for name, found in available().items():
        cls = found.load() if isinstance(found, _LazyPlugin) else found
        rows.append((name, getattr(cls, "family", "plugin"), cls.summary))
    return rows


__all__ = ["BUILTIN", "Strategy", "UnknownStrategy", "available", "describe", "get"]
