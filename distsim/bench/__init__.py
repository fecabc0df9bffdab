"""Benchmarks: distsim against a baseline measured in the same run, on a noisy shared machine.

Each measurement runs in a fresh child process (so that its peak memory is its
own), the baseline and distsim alternate, and results are medians over the
repetitions with ratios of medians. Suites are listed in ``SUITES``; each yields
one row per measurement point.
"""

from __future__ import annotations

from distsim.bench.suites import SUITES, run_suite

__all__ = ["SUITES", "run_suite"]
