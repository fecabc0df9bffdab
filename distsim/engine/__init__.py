"""The SimPy world strategies run in: ranks, links, the context each rank sees, tensors."""

from distsim.engine.context import Context
from distsim.engine.tensor import Phantom, Tensor, join, split, zeros_like
from distsim.engine.world import Device, World

__all__ = ["Context", "Device", "Phantom", "Tensor", "World", "join", "split", "zeros_like"]
