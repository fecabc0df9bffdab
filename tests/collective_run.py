"""Run one library collective on a simulated switch, outside any scenario, and reconcile it.

The expected results are written here with numpy, from what each collective means
(not from the strategy's ``expected``), so a wrong algorithm cannot agree with itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distsim import collectives
from distsim.analysis import Inputs, reconcile
from distsim.analysis.collectives import CollectiveCall
from distsim.analysis.platform import Platform
from distsim.engine import Device, Phantom, World
from distsim.hardware import build_topology

ALPHA, BETA, S = 5e-6, 12.5e9, 4  # 5 us, 100 Gbit/s, fp32


@dataclass
class Ran:
    world: World
    results: dict
    inputs: list
    reconciliation: object

    @property
    def checks(self) -> dict:
        return {c.name: c for c in self.reconciliation.checks}


def switch_world(size: int, payloads: bool = True) -> World:
    names = [f"w{i}" for i in range(size)]
    topology = build_topology("switch", names, BETA, ALPHA)
    return World(topology, names, list(range(size)), Device(1e15, 1e15), S, copies_payloads=payloads)


def run_collective(op: str, algorithm: str, group: tuple, params: int, world_size: int | None = None,
                   payloads: bool = True, **options) -> Ran:
    """Every rank of ``group`` calls ``op``; ``params`` is NCCL's count (an all-gather's whole result)."""
    world = switch_world(world_size or max(group) + 1, payloads)
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal(params) if payloads else Phantom(params) for _ in world.ranks]
    call = getattr(collectives, op)

    def program(rank):
        tensor = inputs[rank]
        if op == "all_gather":
            tensor = np.split(tensor, len(group))[group.index(rank)] if payloads else Phantom(params // len(group))
        return (yield from call(world.contexts[rank], group, tensor, algorithm=algorithm, **options))

    for rank in group:
        world.spawn(rank, program(rank))
    results = world.run()
    if algorithm == collectives.AUTO:  # what auto chose is checked against the tuner, not reconciled here
        return Ran(world, results, inputs, None)
    spec = CollectiveCall(op, algorithm, tuple(group), params, S, options.get("root"), options.get("channels", 2),
                          options.get("servers", 1), options.get("nodes"))
    inputs_for_analysis = Inputs("collective", len(group), params, S, BETA, ALPHA, "switch", 1e15, collective=spec,
                                 platform=routes_of(world))
    return Ran(world, results, inputs, reconcile(world.trace, inputs_for_analysis))


def routes_of(world: World) -> Platform:
    """The analyzer's view of the world's network: its links and the route between any two ranks."""
    topology = world.topology
    return Platform(tuple(topology.links), lambda a, b: () if a == b else topology.route(a, b).links)


def expected_results(op: str, group: tuple, inputs: list, root: int | None = None) -> dict:
    """What each rank of the group must hold, straight from the definition of the collective."""
    n, root = len(group), group[0] if root is None else root
    total = sum(inputs[r] for r in group)
    blocks = {r: np.split(inputs[r], n) for r in group} if op in ("all_gather", "all_to_all") else {}
    out = {}
    for i, rank in enumerate(group):
        out[rank] = {
            "all_reduce": lambda: total,
            "reduce_scatter": lambda: np.split(total, n)[i],
            "all_gather": lambda: np.concatenate([blocks[g][j] for j, g in enumerate(group)]),
            "broadcast": lambda: inputs[root],
            "reduce": lambda: total if rank == root else None,
            "all_to_all": lambda: np.concatenate([blocks[g][i] for g in group]),
        }[op]()
    return out


def assert_exact_results(ran: Ran, op: str, group: tuple, root: int | None = None) -> None:
    for rank, want in expected_results(op, group, ran.inputs, root).items():
        got = ran.results[rank]
        if want is None:
            assert got is None, f"rank {rank} should hold nothing"
        else:
            assert got.shape == want.shape and np.allclose(got, want, rtol=1e-12, atol=1e-12), f"rank {rank}"


def runnable(op: str, algorithm: str, n: int, params: int, **options) -> bool:
    return not collectives.refusal(op, algorithm, n, **options) and not collectives.size_refusal(op, n, params)
