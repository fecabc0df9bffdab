"""Peak memory against backward time for every schedule, over its parameter or a memory budget.

Every point is a simulated run of a real schedule (the SimPy executor's trace),
not a formula. ``sweep="k"`` runs each schedule at every value of its own
parameter (k, segments, slots; store_all and disk_offload are one point each).
``sweep="budget"`` asks, for a grid of memory budgets, what each schedule can do
within it: the fastest of its configurations whose peak fits, and for
``optimal`` the plan for that very budget. A point is on the Pareto frontier
when no other point is both smaller and faster.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from distsim.errors import OutOfMemoryError
from distsim.remat.chain import Chain
from distsim.remat.run import run_rematerialization
from distsim.remat.schedule import peak_bytes
from distsim.strategies import get

SCHEDULES = {  # schedule -> the parameter its sweep varies
    "store_all": None,
    "disk_offload": None,
    "checkpoint_every_k": "k",
    "segment_recompute": "k",
    "checkpoint_sequential": "segments",
    "optimal": "slots",
}
DENSE_UP_TO = 64  # every parameter value up to this many layers; a geometric grid beyond
BUDGETS = 24  # grid points of a budget sweep


@dataclass(frozen=True)
class Point:
    schedule: str
    param: str  # k, segments, slots, budget, or "" for a schedule without one
    value: float | None
    peak_bytes: int
    backward_s: float | None  # None: out of memory on the scenario's device
    fwd_ops: int = 0
    loadmem_ops: int = 0
    loaddisk_ops: int = 0
    budget: float | None = None
    pareto: bool = False

    @property
    def fits(self) -> bool:
        return self.backward_s is not None

    @property
    def label(self) -> str:
        setting = f"{self.param} = {self.value:,.0f}" if self.param else ""
        return f"{self.schedule} {setting}".strip()


def parameter_values(layers: int, param: str) -> list[int]:
    top = layers + 1 if param == "slots" else layers
    if layers <= DENSE_UP_TO:
        return list(range(1, top + 1))
    grid, value = {1, top}, 1.0
    while value < top:
        grid.add(round(value))
        value *= 1.25
    return sorted(v for v in grid if 1 <= v <= top)


def measure(scenario, name: str, param: str | None = None, value=None) -> Point:
    """Run one schedule configuration and read its point off the trace."""
    cls = get(name)
    strategy = cls(cls.Params(**({param: value} if param else {})))
    try:
        result = run_rematerialization(scenario, strategy, verify=False)
    except OutOfMemoryError:  # drawn nowhere, listed as not fitting, with the peak it would need
        chain = Chain.of(scenario)
        return Point(name, param or "", value, peak_bytes(strategy.schedule(chain), chain.sizes), None)
    trace = result.trace
    ops = trace.ops.columns()
    kinds = [trace.op_kinds[k] for k in ops["kind"][trace.meta["backward_first_op"]:].tolist()]
    return Point(
        name, param or "", value, int(ops["memory_in_use"].max()), trace.makespan - trace.meta["backward_start_s"],
        kinds.count("fwd"), kinds.count("loadmem"), kinds.count("loaddisk"),
    )


def sweep_parameters(scenario, progress=None) -> list[Point]:
    """Every schedule at every value of its parameter."""
    layers = Chain.of(scenario).layers
    points = []
    for name, param in SCHEDULES.items():
        if progress:
            progress(f"sweeping {name} ...")
        values = parameter_values(layers, param) if param else [None]
        points += [measure(scenario, name, param, value) for value in values]
    return mark_pareto(points)


def sweep_budget(scenario, progress=None) -> list[Point]:
    """For each budget on a grid, the fastest configuration of each schedule that fits it."""
    configs = sweep_parameters(scenario, progress)
    fitting = [p for p in configs if p.fits]
    low, high = min(p.peak_bytes for p in configs), max(p.peak_bytes for p in fitting) if fitting else 0
    budgets = sorted({round(low + (high - low) * i / (BUDGETS - 1)) for i in range(BUDGETS)}) if high > low else [low]
    points = []
    for budget in budgets:
        if progress:
            progress(f"budget {budget:,} bytes ...")
        for name in SCHEDULES:
            if name == "optimal":
                point = measure(scenario, name, "budget", budget)
                candidates = [point] if point.fits and point.peak_bytes <= budget else []
            else:
                candidates = [p for p in fitting if p.schedule == name and p.peak_bytes <= budget]
            if candidates:
                best = min(candidates, key=lambda p: (p.backward_s, p.peak_bytes))
                points.append(replace(best, budget=float(budget)))
    return mark_pareto(points)


def mark_pareto(points: list[Point]) -> list[Point]:
    """Flag the points no other fitting point beats in both peak memory and backward time."""
    frontier, best = set(), float("inf")
    for p in sorted((p for p in points if p.fits), key=lambda p: (p.peak_bytes, p.backward_s)):
        if p.backward_s < best:
            frontier.add((p.schedule, p.param, p.value, p.budget))
            best = p.backward_s
    return [replace(p, pareto=(p.schedule, p.param, p.value, p.budget) in frontier) for p in points]
