"""Formatting moved to :mod:`distsim.fmt` (the analyzer needs it too); kept for imports in flight."""

from distsim.fmt import fmt_bytes, fmt_count, fmt_time

__all__ = ["fmt_bytes", "fmt_count", "fmt_time"]
