"""Stragglers and jitter: every compute op of a rank takes its slowdown times its roofline time.

A straggler's factor is fixed (``run.stragglers``); jitter is a fresh factor per
compute op (``run.jitter``), of mean 1, drawn from one numpy Generator per run
seeded from ``run.seed`` (its own seed sequence, so turning jitter on does not change
the payloads drawn from the seed). Samples are drawn in blocks, a block per rank when
its last one is used up: the order in which ranks need blocks is the order of the
events, which is deterministic, so the same scenario and seed give the same trace.
"""

from __future__ import annotations

import numpy as np

BLOCK = 1024  # samples drawn at once (one numpy call per BLOCK compute ops, not one per op)
JITTER_STREAM = 9  # spawn key of the jitter generator's seed sequence: apart from the payloads' default_rng(seed)


def slow_down(world, factors: list[float], distribution: str | None = None, spread: float = 0.0, seed: int = 0) -> None:
    """Give rank r of ``world`` the straggler factor ``factors[r]`` (ranks beyond the list: 1) and, with a
    ``distribution`` ('lognormal' with sigma ``spread``, 'uniform' with width ``spread``), a jitter sampler."""
    for ctx, factor in zip(world.contexts, factors):
        ctx.slowdown = float(factor)
    if distribution is None:
        return
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(JITTER_STREAM,)))
    if distribution == "lognormal":
        block = lambda: rng.lognormal(-spread * spread / 2, spread, BLOCK)  # noqa: E731  mean exp(mu + s^2/2) = 1
    elif distribution == "uniform":
        block = lambda: rng.uniform(1.0 - spread, 1.0 + spread, BLOCK)  # noqa: E731
    else:
        raise ValueError(f"unknown jitter distribution {distribution!r}")
    for ctx in world.contexts:
        ctx.jitter = sampler(block)


def sampler(block):
    """A function returning the next factor, refilled from ``block()`` (an array) when empty."""
    buffer: list[float] = []
    pop = buffer.pop

    def next_factor() -> float:
        if not buffer:
            buffer.extend(reversed(block().tolist()))
        return pop()

    return next_factor
