"""The building blocks of every scenario section: frozen sections, quantities with units, limits.

Kept apart from ``model.py`` so that the cluster vocabulary (``cluster.py``) and the
top-level models can both use them without importing each other.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from distsim.scenario.units import Quantity

# Beyond these a scenario is a typo, not a workload, and would exhaust memory before any error.
MAX_WORKERS = 2**20
MAX_LAYERS = 10**6


def quantity(kind: str) -> Quantity:
    """Parses '5 us' and friends, and tells JSON Schema that text with a unit is accepted."""
    return Quantity(kind)


Seconds = Annotated[float, quantity("time"), Field(ge=0)]
Bytes = Annotated[float, quantity("bytes"), Field(gt=0)]
Bandwidth = Annotated[float, quantity("bandwidth"), Field(gt=0)]
Flops = Annotated[float, quantity("flops"), Field(gt=0)]
Count = Annotated[int, Quantity("count", whole=True)]
Fraction = Annotated[float, Field(gt=0, le=1)]


class Section(BaseModel):
    """Every section is frozen and rejects unknown keys (they are typos more often than not)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def edge_from_list(value: object) -> object:
    """A cable written as ``[a, b]`` is ``{nodes: [a, b]}`` with the defaults."""
    return {"nodes": value} if isinstance(value, (list, tuple)) else value
