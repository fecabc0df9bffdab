"""Pure cost functions of the hardware model, pinned by exact-number tests.

The engine evaluates the same expressions inline on its hot path (a function call
per message would cost ~10% of a run); tests check the two agree to the last bit.
"""

from __future__ import annotations


def transfer_time(nbytes: float, bandwidth: float, latency: float) -> float:
    """Alpha-beta (Hockney 1994): a message of ``nbytes`` on a free route takes alpha + b/beta.

    The serialisation term ``nbytes / bandwidth`` occupies the links; the latency is
    propagation and does not, so back-to-back messages on one link pipeline.
    """
    return nbytes / bandwidth + latency


def compute_time(flops: float, flops_per_second: float) -> float:
    """A compute op of ``flops`` on a device of ``flops_per_second`` (no efficiency factor)."""
    return flops / flops_per_second


def tier_time(nbytes: float, latency: float, bandwidth: float | None) -> float:
    """A load from or store to a memory tier: its latency, plus size/bandwidth when a bandwidth is set."""
    return latency if bandwidth is None else latency + nbytes / bandwidth
