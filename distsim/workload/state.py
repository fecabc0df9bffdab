"""Bytes per parameter that a rank keeps for training: weights, gradients, optimizer state.

Mixed precision (Micikevicius et al., ICLR 2018) keeps 16-bit weights and gradients
and an fp32 master copy of the weights; Adam (Kingma & Ba 2015) adds two fp32
moments. Rajbhandari et al. (ZeRO, SC 2020, section 3.1): 2 + 2 + 12 = 16 bytes per
parameter, the 12 being the optimizer state that ZeRO stage 1 shards. In full fp32
the weights are their own master copy (Adam: 4 + 4 + 8). SGD keeps no state of its
own (no momentum), only the fp32 master copy under mixed precision.
"""

from __future__ import annotations

from dataclasses import dataclass

FP32 = 4


@dataclass(frozen=True)
class StateBytes:
    """Bytes per parameter in each memory category (trace/memory.py's weights, gradients, optimizer)."""

    weights: int
    gradients: int
    optimizer: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer


def state_bytes(element_bytes: int, optimizer: str = "adam") -> StateBytes:
    """Per parameter: weights and gradients in the model's dtype; the optimizer's fp32 state, with an fp32 master
    copy of the weights when they are narrower than fp32 (bf16 + Adam: 2, 2, 12)."""
    master = FP32 if element_bytes < FP32 else 0
    moments = 2 * FP32 if optimizer == "adam" else 0
    return StateBytes(element_bytes, element_bytes, master + moments)
