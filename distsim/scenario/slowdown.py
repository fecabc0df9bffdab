"""Slow and noisy devices: ``run: {stragglers: {w3: 1.2}, jitter: {distribution: lognormal, sigma: 0.05}}``.

A straggler's every compute op takes its factor times as long (1.2: 20% slower);
jitter multiplies every compute op of every rank by a random factor of mean 1, drawn
from a generator seeded from ``run.seed`` (engine/variability.py), so the same
scenario gives the same trace. Names are checked against the cluster here, each
problem at its key, so that ``distsim validate`` reports them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from distsim.scenario.cluster import MISSING, fail
from distsim.scenario.fields import Section

MAX_SIGMA = 2.0  # beyond this a lognormal factor of mean 1 is mostly near 0 with rare huge values: a typo

Stragglers = dict[str | int, Annotated[float, Field(gt=0, le=1e6)]]


class Jitter(Section):
    """A random factor of mean 1 on every compute op's time."""

    distribution: Literal["lognormal", "uniform"] = Field(
        "lognormal", description="'lognormal': exp(N(-sigma^2/2, sigma)), mean 1; 'uniform': 1 - width to 1 + width"
    )
    sigma: float | None = Field(None, gt=0, le=MAX_SIGMA, description="lognormal: the standard deviation of the factor's log")
    width: float | None = Field(None, gt=0, lt=1, description="uniform: the factor lies in [1 - width, 1 + width]")

    @model_validator(mode="after")
    def _parameters_of_distribution(self) -> "Jitter":
        needs = {"lognormal": "sigma", "uniform": "width"}
        errors = [((key,), f"{key!r} is only used with distribution {owner!r}, not {self.distribution!r}", getattr(self, key))
                  for owner, key in needs.items() if owner != self.distribution and getattr(self, key) is not None]
        wanted = needs[self.distribution]
        if getattr(self, wanted) is None:
            errors.append(((wanted,), MISSING, None))
        fail(errors)
        return self


def straggler_rank(name: str | int) -> int | None:
    """The worker a straggler key names ('w3' or 3), or None when it names none."""
    if isinstance(name, int):
        return name
    if len(name) > 1 and name[0] == "w" and name[1:].isascii() and name[1:].isdigit():
        return int(name[1:])
    return None


def straggler_errors(stragglers: Stragglers | None, workers: int) -> None:
    """Every key must name a worker of the cluster, once."""
    errors, seen = [], {}
    for name in stragglers or {}:
        rank = straggler_rank(name)
        loc = ("run", "stragglers", name)
        if rank is None or not 0 <= rank < workers:
            errors.append((loc, f"{name!r} is not a worker (workers are w0..w{workers - 1}, or 0..{workers - 1})", name))
        elif rank in seen:
            errors.append((loc, f"worker w{rank} is already given as {seen[rank]!r}", name))
        else:
            seen[rank] = name
    fail(errors)


def straggler_factors(stragglers: Stragglers | None, workers: int) -> list[float]:
    """Each worker's factor (1.0 when it is not a straggler)."""
    factors = [1.0] * workers
    for name, factor in (stragglers or {}).items():
        factors[straggler_rank(name)] = float(factor)
    return factors
