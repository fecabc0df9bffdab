"""The device a scenario describes, and its stragglers and jitter, applied to a World (issue 9).

Every family that builds a World uses these two functions, so that a GPU's roofline
figures and a run's slowdowns mean the same in a gradient exchange and in a training step.
"""

from __future__ import annotations

from distsim.engine import Device
from distsim.engine.variability import slow_down
from distsim.scenario.slowdown import straggler_factors


def device_of(cluster) -> Device:
    """A scenario cluster's GPU as the engine's Device: peak FLOP/s, efficiency, memory and its bandwidth."""
    gpu = cluster.gpu
    return Device(gpu.flops, gpu.memory, gpu.efficiency, gpu.memory_bandwidth)


def apply_slowdowns(world, scenario) -> None:
    """The scenario's stragglers (by worker) and jitter (seeded from run.seed) on ``world``'s ranks."""
    run = scenario.run
    factors = straggler_factors(run.stragglers, scenario.cluster.workers)
    jitter = run.jitter
    if jitter is None:
        slow_down(world, factors)
    else:
        spread = jitter.sigma if jitter.distribution == "lognormal" else jitter.width
        slow_down(world, factors, jitter.distribution, spread, run.seed)
