"""The fewest recomputations within a memory budget: binomial checkpointing (Revolve).

Griewank & Walther, "Algorithm 799: Revolve", ACM TOMS 26(1), 2000. With s
checkpoint slots (the input's included), reversing a chain of n states costs
at least t(n, s) = r·n − C(s + r, s + 1) forward steps, where r is the least
integer with C(s + r, s) ≥ n; the recursion below attains it. To reverse the
states a_b .. a_{b+n-1} with a_b checkpointed and c more free slots: if c = 0,
rerun forward from a_b for every state, top first; else advance m steps, store
a_{b+m} in a free slot, reverse the upper part with one slot fewer, free the slot
and reverse the lower part. The split m is the one with the least total cost,
m + t(n − m, c) + t(m, c + 1) (Revolve's own split rule picks one of these
minima). The chain's states are a_0 .. a_L; the first sweep up to a_L is the
forward pass, and bwd L runs at once on the a_L it leaves at hand.

``slots`` counts checkpoints (Revolve's snapshots); the activation at hand and
the one a forward step is writing come on top, so the peak is at most slots + 2
activations. A ``budget`` in bytes picks the most slots whose
peak (counted op by op, :func:`~distsim.remat.peak_bytes`) fits.
"""

from __future__ import annotations

from functools import lru_cache
from math import comb

from pydantic import Field, model_validator

from distsim.remat import Builder, Schedule, peak_bytes
from distsim.scenario.model import Bytes
from distsim.strategies.remat import RematParams, RematStrategy, indices, sqrt_default


class OptimalParams(RematParams):
    slots: int | None = Field(None, ge=1, description="checkpoints kept at once, the input's included; unset: round(sqrt(L)), or what budget allows")
    budget: Bytes | None = Field(None, description="peak activation bytes allowed; the planner uses the most slots that fit")

    @model_validator(mode="after")
    def _one_budget(self) -> "OptimalParams":
        if self.slots is not None and self.budget is not None:
            raise ValueError("give either slots or budget, not both")
        return self


@lru_cache(maxsize=None)
def forward_steps(n: int, snapshots: int) -> int:
    """Revolve's minimum number of forward steps to reverse n states with ``snapshots`` slots (binomial formula).

    The analyzer writes the same minimum on its own (analysis/remat.py, ``revolve_steps``)
    on purpose: the reconciliation compares the plan's count with an independent derivation.
    """
    if n <= 1:
        return 0
    r = 0
    while comb(snapshots + r, snapshots) < n:
        r += 1
    return r * n - comb(snapshots + r, snapshots + 1)


def best_split(n: int, free: int) -> int:
    """Where to put the next checkpoint above a_b: the m with the least m + t(n−m, free) + t(m, free+1)."""
    return min(range(1, n), key=lambda m: (m + forward_steps(n - m, free) + forward_steps(m, free + 1), m))


def plan(layers: int, slots: int, input_load: bool = False) -> Schedule:
    """The binomial schedule for ``layers`` layers with ``slots`` checkpoints (the input's included)."""
    slots = min(slots, layers + 1)
    b = Builder(layers, input_load)
    b.store(0)
    forward_checkpoints = [0]
    tasks = [("reverse", 0, layers + 1, slots - 1)]  # a stack: the upper part of a split runs first
    while tasks:
        task = tasks.pop()
        if task[0] == "free":
            b.free(task[1], "mem")
            continue
        _, base, n, free = task
        if n == 1 or free == 0:
            for j in range(base + n - 1, base - 1, -1):  # every state from a_base, the top first
                if j == 0:
                    continue  # a_0 has no backward step of its own
                b.ensure(base)
                b.advance(base, j)
                b.bwd(j)
                b.free(j)
            continue
        m = best_split(n, free)
        b.ensure(base)
        b.advance(base, base + m)
        b.store(base + m)
        if b.boundary is None:
            forward_checkpoints.append(base + m)
        tasks += [("reverse", base, m, free), ("free", base + m), ("reverse", base + m, n - m, free - 1)]
    b.free(0, "mem")
    recomputed = forward_steps(layers + 1, slots) - layers
    return b.build(
        f"binomial checkpointing with {slots} slots: {recomputed:,} recomputations; "
        f"the forward pass stores {indices(forward_checkpoints)}",
        slots=slots,
    )


class Optimal(RematStrategy):
    name = "optimal"
    summary = "fewest recomputations within a budget (slots or bytes): Revolve's binomial checkpointing"
    Params = OptimalParams

    def slots(self, chain) -> int:
        """The slots given, or the most whose peak fits the byte budget (0 if not even one does)."""
        if self.params.budget is None:
            return min(self.params.slots or sqrt_default(chain.layers), chain.layers + 1)
        def fits(slots: int) -> bool:
            return peak_bytes(plan(chain.layers, slots, self.params.input_load), chain.sizes) <= self.params.budget

        if self.params.budget < self.least_budget(chain):
            return 0
        low, high = 1, chain.layers + 1
        while low < high:  # the largest slot count that fits (peaks grow with slots)
            mid = (low + high + 1) // 2
            low, high = (mid, high) if fits(mid) else (low, mid - 1)
        return low

    def planning_states(self, layers: int) -> int:
        """How many (states, slots) minima the planner computes and keeps for ``layers`` layers: what planning
        costs, for the estimate made before a run (distsim.estimate). A byte budget plans once per step of a
        binary search."""
        slots = min(self.params.slots or sqrt_default(layers), layers + 1)
        searches = 1 if self.params.budget is None else layers.bit_length() + 1
        return layers * slots * searches

    @staticmethod
    def least_budget(chain) -> int:
        """The peak of one slot (the input) with everything else recomputed, the least of any schedule:
        a forward step of layer i >= 2 holds a_0, a_{i-1} and a_i."""
        s = chain.sizes
        return s[0] + max([s[1]] + [s[i - 1] + s[i] for i in range(2, chain.layers + 1)])

    def problems(self, chain):
        least = self.least_budget(chain)
        if self.params.budget is not None and self.params.budget < least:
            return [("budget", f"a budget of {int(self.params.budget):,} bytes is below the least any schedule needs, "
                               f"{least:,} bytes (the input and the two activations of a forward step)")]
        return []

    def schedule(self, chain):
        slots = self.slots(chain)
        schedule = plan(chain.layers, slots, self.params.input_load)
        if self.params.budget is not None:
            return Schedule(schedule.layers, schedule.forward, schedule.backward,
                            schedule.summary + f" (most that fit {int(self.params.budget):,} bytes)",
                            {**schedule.params, "budget": self.params.budget}, schedule.input_load)
        return schedule
