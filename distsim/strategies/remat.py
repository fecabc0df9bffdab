"""What a rematerialization schedule is: a class that writes the ops of one training step.

Each schedule has a ``name``, a one-line ``summary``, a pydantic ``Params`` for
its scenario keys (all with defaults, so ``{kind: NAME}`` alone runs) and
``schedule(chain)``, which returns a :class:`~distsim.remat.Schedule`: data,
which the numpy executor proves correct and the SimPy executor times. Schedules
are written with a :class:`~distsim.remat.Builder`, which checks every op as it
is added.
"""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from distsim.remat import Schedule


class RematParams(BaseModel):
    """Parameters every rematerialization schedule accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    input_load: bool = Field(
        False,
        description="the first layer's weight gradient needs the input a_0: load it (one more loadmem) when it is "
        "not at hand; off by default, as in the exam, which counts one load per layer",
    )


class RematStrategy:
    """Base class of the rematerialization schedules."""

    name: ClassVar[str]
    summary: ClassVar[str]
    family: ClassVar[str] = "rematerialization"
    min_workers: ClassVar[int] = 1
    Params: ClassVar[type[BaseModel]] = RematParams

    def __init__(self, params: BaseModel | None = None):
        self.params = params if params is not None else self.Params()

    # The name of the schedule's interval or count parameter (k, segments), if it has one:
    # it defaults to round(sqrt(L)) and may not exceed L.
    sized_by: ClassVar[str | None] = None

    def size(self, chain) -> int:
        """The value of the ``sized_by`` parameter for ``chain`` (round(sqrt(L)) when unset)."""
        return getattr(self.params, self.sized_by) or sqrt_default(chain.layers)

    def problems(self, chain) -> list[tuple[str, str]]:
        """(parameter, message) for every parameter that does not suit ``chain``; empty when it runs."""
        return at_most_layers(self.sized_by, self.size(chain), chain.layers) if self.sized_by else []

    def schedule(self, chain) -> Schedule:
        raise NotImplementedError


def sqrt_default(layers: int) -> int:
    """round(√L), at least 1: the interval that balances memory and recomputation (Chen et al. 2016)."""
    return max(1, round(math.sqrt(layers)))


def at_most_layers(name: str, value: int, layers: int) -> list[tuple[str, str]]:
    if value > layers:
        return [(name, f"{name} = {value} is larger than the number of layers L = {layers}; use 1 to {layers}")]
    return []


def indices(values) -> str:
    """a_0, a_5, a_10 (or a_0, a_5, ..., a_995 (200 in all) when long)."""
    values = list(values)
    if len(values) <= 8:
        return ", ".join(f"a_{v}" for v in values) or "none"
    return ", ".join(f"a_{v}" for v in values[:3]) + f", ..., a_{values[-1]} ({len(values)} in all)"
