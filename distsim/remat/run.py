"""The rematerialization family's three hooks for ``api.FAMILIES``: fits, simulate, analyze.

A schedule strategy writes its schedule for the scenario's chain; the SimPy
executor times it (the trace is where every count comes from); the numpy
executor runs the same schedule on a real MLP and its gradients must equal
plain backpropagation's, or the run fails (VerificationError, exit 3).
"""

from __future__ import annotations

import time

from distsim.analysis.remat import RematInputs, reconcile_remat
from distsim.engine import faults
from distsim.errors import OutOfMemoryError, VerificationError
from distsim.remat.chain import Chain, chain_problems
from distsim.remat.numpy_exec import MLP, execute, reference_gradients
from distsim.remat.schedule import Schedule, peak_bytes
from distsim.remat.simpy_exec import simulate
from distsim.runner import RunResult

AUTO_VERIFY_OPS = 250_000  # schedules up to this many ops are run on real numbers by default


def fits_rematerialization(scenario, strategy, spec, where) -> list:
    """Located problems: the chain is not described, or the schedule's parameters do not suit it."""
    problems = chain_problems(scenario, where, spec.kind)
    if problems:
        return problems
    chain = Chain.of(scenario)
    found = faults.call(strategy.problems, "problems()", chain)
    return [where.problem(spec.origin + (name,), message) for name, message in found]


def run_rematerialization(scenario, strategy, where=None, verify: bool | None = None, monitor=None) -> RunResult:
    """Simulate one training step of ``strategy``'s schedule on one worker; check its gradients on real numbers.

    (``monitor`` is accepted like every family's and not used: a layer chain simulates in milliseconds.)
    """
    started = time.perf_counter()
    chain = Chain.of(scenario)
    schedule = faults.call(strategy.schedule, "schedule()", chain)
    try:
        trace = simulate(schedule, chain, scenario.cluster.gpu.flops)
    except OutOfMemoryError as error:
        _did_not_fit(error, strategy, schedule, chain, scenario)
        raise
    if verify is None:
        verify = scenario.run.verify_payload if scenario.run.verify_payload is not None else len(schedule) <= AUTO_VERIFY_OPS
    if verify:
        check_gradients(schedule, scenario.run.seed)
    trace.meta.update(
        strategy=strategy.name, layers=chain.layers, seed=scenario.run.seed, verified=verify,
        schedule=schedule.summary, schedule_params=schedule.params, input_load=schedule.input_load,
    )
    peak = {"w0": int(trace.ops["memory_in_use"].max()) if len(trace.ops) else chain.sizes[0]}
    return RunResult(scenario, strategy, trace, verify, time.perf_counter() - started, peak)


def _did_not_fit(error: OutOfMemoryError, strategy, schedule: Schedule, chain: Chain, scenario) -> None:
    """Note on the partial trace what a report of a schedule that does not fit shows: the schedule, the
    failure (rank, op, time), the device's memory and, when that is what ran out, the peak the schedule needs."""
    meta = error.trace.meta
    meta.update(strategy=strategy.name, layers=chain.layers, seed=scenario.run.seed, verified=False,
                schedule=schedule.summary, schedule_params=schedule.params, input_load=schedule.input_load,
                out_of_memory=str(error), memory_bytes=int(chain.memory.capacity))
    needed = peak_bytes(schedule, chain.sizes)
    if needed > chain.memory.capacity:  # else the disk was full
        meta["peak_needed_bytes"] = needed


def check_gradients(schedule: Schedule, seed: int) -> None:
    """The schedule, followed literally on a real tanh MLP, must give plain backpropagation's gradients."""
    mlp = MLP(schedule.layers, seed=seed)
    got, want = execute(schedule, mlp), reference_gradients(mlp)
    if not got.allclose(want):
        raise VerificationError(
            f"gradient check failed: the schedule's gradients differ from plain backpropagation's "
            f"(largest difference {got.largest_difference(want):.3g})"
        )


def analyze_rematerialization(result: RunResult, scenario, strategy):
    return reconcile_remat(result.trace, remat_inputs(scenario, result.trace.meta))


def remat_inputs(scenario, meta: dict) -> RematInputs:
    """The numbers the closed forms may use: the chain and the parameters the schedule resolved."""
    chain = Chain.of(scenario)
    params = dict(meta.get("schedule_params", {}), input_load=meta.get("input_load", False))
    return RematInputs(
        kind=meta["strategy"],
        sizes=chain.sizes,
        fwd_s=chain.fwd_s,
        bwd_s=chain.bwd_s,
        load_mem=chain.memory.load_time,
        load_disk=chain.disk.load_time,
        store_mem_s=chain.memory.store_time(chain.sizes[0]),
        params=params,
    )
