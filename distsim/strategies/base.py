"""What a strategy is: per-rank generator processes that send, receive and compute.

A strategy class has a ``name``, a one-line ``summary``, a pydantic ``Params`` model
for its own scenario keys, and ``programs(job)``, which yields one
``(rank, generator)`` per process to run. Each generator is the algorithm as a
textbook states it, written against the rank's :class:`~distsim.engine.Context`
(``ctx.send``, ``yield ctx.recv``, ``yield ctx.compute``). A strategy never builds
trace records: the context records what it does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from distsim.engine import Context, Tensor


class Params(BaseModel):
    """Parameters every gradient-exchange strategy accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    reduce_compute: bool = Field(
        False,
        description="time each reduction on the GPU (the gamma term); off by default, as in the alpha-beta model",
    )


class Job(Protocol):
    """What the runner hands a communication strategy."""

    world_size: int  # number of workers n
    workers: list[int]  # their ranks, 0..n-1
    nodes: list[tuple[int, ...]]  # the workers of each node (box), in order; a flat cluster: one per node

    def context(self, rank: int) -> Context: ...
    def gradient(self, rank: int) -> Tensor: ...


class Strategy:
    """Base class of the gradient-exchange strategies (the registry also holds others)."""

    name: ClassVar[str]
    summary: ClassVar[str]
    family: ClassVar[str] = "communication"
    Params: ClassVar[type[BaseModel]] = Params
    result: ClassVar[str] = "mean_gradient"  # what every worker must hold at the end
    min_workers: ClassVar[int] = 2

    def __init__(self, params: BaseModel | None = None):
        self.params = params if params is not None else self.Params()
        # Reductions cost GPU time only when the scenario asks (the gamma term of
        # alpha-beta-gamma); strategies test this flag before ``yield ctx.compute``.
        self.timed_reductions = getattr(self.params, "reduce_compute", False)

    def extra_ranks(self) -> list[tuple[str, int | None]]:
        """Ranks beyond the n workers: (name, worker to share a node with, or None for a node of its own)."""
        return []

    def programs(self, job: Job) -> Iterator[tuple[int, Iterator]]:
        raise NotImplementedError

    def expected(self, gradients: np.ndarray, weights: np.ndarray) -> np.ndarray | list:
        """What every worker must hold at the end, computed directly (rows of ``gradients`` are the workers').

        One array for every worker, or a list with each worker's own (None where a worker ends with nothing).
        """
        return gradients.mean(axis=0)

    def facts(self, job) -> dict:
        """What the strategy decided for this run that the output should show (e.g. an algorithm auto chose)."""
        return {}
