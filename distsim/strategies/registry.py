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

from distsim.engine.faults import exception_text
from distsim.errors import DistsimError, InputError
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


class BrokenPlugin(InputError):
    """An installed plugin that cannot be used: its module fails to import, or it is not a strategy class.

    Only the runs that name it fail (with this, located at their ``kind``); ``distsim strategies``
    lists it as broken, and the schema leaves it out.
    """

    def __init__(self, name: str, target: str, why: str):
        self.name, self.target, self.why = name, target, why
        super().__init__(f"plugin {name!r} ({target}) cannot be loaded: {why}")


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
        """The plugin's class; BrokenPlugin, saying why, if importing it fails or it is not a strategy class."""
        try:
            cls = self.entry.load()
        except (Exception, SystemExit) as error:  # a plugin's import runs arbitrary code
            raise BrokenPlugin(self.name, self.entry.value, exception_text(error)) from error
        if not _is_strategy_class(cls):
            raise BrokenPlugin(self.name, self.entry.value, "it is not a strategy class (one with a summary, Params, "
                               "a family, and programs() or schedule(); see docs/adding-a-strategy.md)")
        return cls


def _is_strategy_class(cls) -> bool:
    return (isinstance(cls, type) and all(hasattr(cls, a) for a in ("summary", "Params", "family"))
            and (hasattr(cls, "programs") or hasattr(cls, "schedule")))


def loadable(builtin: bool = False) -> dict[str, type]:
    """Every strategy class that can be used, by name (plugins that fail to load left out); only built-ins if ``builtin``."""
    table = {}
    for name, found in ({cls.name: cls for cls in BUILTIN} if builtin else available()).items():
        try:
            table[name] = found.load() if isinstance(found, _LazyPlugin) else found
        except BrokenPlugin:
            continue
    return table


def label(kind: str, cls: type) -> str:
    """How errors name a strategy: "strategy 'ring_allreduce'", or "plugin 'mine' (my_pkg.mod:Mine)"."""
    if cls in BUILTIN:
        return f"strategy {kind!r}"
    return f"plugin {kind!r} ({cls.__module__}:{cls.__qualname__})"


def describe() -> list[tuple[str, str, str]]:
    """(name, family, summary) for every strategy, in table order; a plugin that cannot be loaded is
    listed as BROKEN with the reason, and does not stop the others from being listed."""
    rows = []
    for name, found in available().items():
        try:
            cls = found.load() if isinstance(found, _LazyPlugin) else found
        except BrokenPlugin as broken:
            rows.append((name, "plugin", f"BROKEN: cannot be loaded ({broken.target}): {broken.why}"))
            continue
        rows.append((name, getattr(cls, "family", "plugin"), cls.summary))
    return rows


__all__ = ["BUILTIN", "BrokenPlugin", "Strategy", "UnknownStrategy", "available", "describe", "get", "label", "loadable"]
