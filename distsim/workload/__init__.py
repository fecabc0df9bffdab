"""Workloads: what a model asks of a device, layer by layer (issue 9, docs/workloads.md).

``layers_of(model)`` turns a scenario's model (a transformer's shape or preset, a layer
list, or a bare parameter count) into :class:`LayerSpec` rows: parameters, FLOPs and
bytes of each layer's forward and backward, activation and output bytes.
``state_bytes`` gives the bytes per parameter of weights, gradients and optimizer
state. ``transformer.py`` holds the formulas, each with its source; it imports nothing
else from distsim, so the scenario layer uses it to count a preset's parameters.
"""

from distsim.workload.layers import LayerSpec, layers_of, transformer_layers
from distsim.workload.state import StateBytes, state_bytes
from distsim.workload.transformer import Shape

__all__ = ["LayerSpec", "Shape", "StateBytes", "layers_of", "state_bytes", "transformer_layers"]
