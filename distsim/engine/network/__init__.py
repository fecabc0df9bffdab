"""The network behind one narrow interface: a model decides when a message's bytes leave and arrive.

``MODELS`` is the table of models a scenario can name (``network: {model: ...}``);
see ``base.py`` for the interface and docs/model.md for each model's rules.
"""

from __future__ import annotations

from distsim.engine.network.base import Network
from distsim.engine.network.flow import FlowNetwork
from distsim.engine.network.links import CUT_THROUGH, STORE_AND_FORWARD, LinkNetwork

MODELS = {
    CUT_THROUGH: lambda world: LinkNetwork(world, CUT_THROUGH),
    STORE_AND_FORWARD: lambda world: LinkNetwork(world, STORE_AND_FORWARD),
    "flow": FlowNetwork,
}
DEFAULT = CUT_THROUGH


def build_network(model: str, world) -> Network:
    """The network model named ``model`` for ``world`` (names: ``MODELS``)."""
    return MODELS[model](world)


__all__ = ["DEFAULT", "MODELS", "Network", "build_network"]
