"""Every schedule computes the right gradients on a real MLP; a broken schedule cannot.

The numpy executor follows a schedule literally (it recomputes exactly what the
schedule recomputes), so equal gradients prove that each activation a backward
step reads is the right one. Schedules that skip a recomputation or read a freed
activation must fail, in the numpy and in the SimPy executor alike.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distsim.errors import OutOfMemoryError
from distsim.remat import Op, Schedule, ScheduleError
from distsim.remat.chain import Chain, Tier
from distsim.remat.numpy_exec import MLP, execute, reference_gradients
from distsim.remat.simpy_exec import simulate
from distsim.strategies import get

PARAM = {"checkpoint_every_k": "k", "segment_recompute": "k", "checkpoint_sequential": "segments", "optimal": "slots"}
NAMES = ["store_all", "checkpoint_every_k", "segment_recompute", "checkpoint_sequential", "disk_offload", "optimal"]


def chain(layers: int, size: int = 1000, capacity: float | None = None) -> Chain:
    zeros = (0.0,) * (layers + 1)
    return Chain((size,) * (layers + 1), (0.0,) + (2e-8,) * layers, (0.0,) + (1e-8,) * layers, zeros, zeros,
                 Tier(1e-8, capacity=capacity or 1e12), Tier(5e-8))


def schedule_of(name: str, layers: int, value=None, input_load: bool = False) -> Schedule:
    cls = get(name)
    params = {PARAM[name]: value} if name in PARAM and value is not None else {}
    return cls(cls.Params(input_load=input_load, **params)).schedule(chain(layers))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("layers", [1, 2, 3, 5, 10, 17])
def test_every_setting_of_every_schedule_gives_store_alls_gradients(name, layers):
    mlp = MLP(layers, seed=layers)
    baseline = execute(schedule_of("store_all", layers), mlp)
    assert baseline.allclose(reference_gradients(mlp))
    top = layers + 2 if name == "optimal" else layers
    for value in range(1, top + 1) if name in PARAM else [None]:
        for input_load in (False, True):
            got = execute(schedule_of(name, layers, value, input_load), mlp)
            assert got.allclose(baseline), (name, layers, value, input_load)


@given(
    name=st.sampled_from(NAMES),
    layers=st.integers(1, 60),
    fraction=st.floats(0.0, 1.0),
    input_load=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_gradients_match_for_random_chains_and_parameters(name, layers, fraction, input_load, seed):
    value = 1 + int(fraction * (layers - 1)) if name in PARAM else None
    mlp = MLP(layers, seed=seed)
    got = execute(schedule_of(name, layers, value, input_load), mlp)
    assert got.allclose(execute(schedule_of("store_all", layers), mlp))


def test_the_gradients_are_not_trivially_small():
    """allclose on vanishing numbers would prove nothing: the test network keeps its signals."""
    grads = reference_gradients(MLP(40, seed=1))
    assert min(float(np.abs(g).max()) for g in grads.weights) > 1e-4


def without(schedule: Schedule, position: int) -> Schedule:
    ops = list(schedule.ops)
    del ops[position]
    cut = len(schedule.forward) - (position < len(schedule.forward))
    return Schedule(schedule.layers, tuple(ops[:cut]), tuple(ops[cut:]), input_load=schedule.input_load)


def run_both(schedule: Schedule):
    """Both executors must reject a broken schedule; the messages name the op."""
    with pytest.raises(ScheduleError) as numpy_error:
        execute(schedule, MLP(schedule.layers))
    with pytest.raises(ScheduleError) as simpy_error:
        simulate(schedule, chain(schedule.layers), 1e12)
    return str(numpy_error.value), str(simpy_error.value)


def test_skipping_a_recomputation_fails():
    good = schedule_of("checkpoint_every_k", 10, 5)
    position = len(good.forward) + next(i for i, op in enumerate(good.backward) if op == Op("fwd", 9))
    numpy_msg, simpy_msg = run_both(without(good, position))
    assert "a_9" in numpy_msg and "bwd 9" in numpy_msg
    assert "bwd 9" in simpy_msg and "a_9" in simpy_msg and "not at hand" in simpy_msg


def test_using_a_freed_activation_fails_and_says_which_op_freed_it():
    ops = [Op("store", 0, "mem"), Op("fwd", 1), Op("fwd", 2), Op("free", 1), Op("free", 0), Op("bwd", 2), Op("bwd", 1)]
    numpy_msg, simpy_msg = run_both(Schedule(2, tuple(ops[:5]), tuple(ops[5:])))
    assert "op 6 (bwd 1)" in numpy_msg
    assert "op 6 (bwd 1)" in simpy_msg and "freed by free a_1 (op 3)" in simpy_msg


def test_loading_what_was_never_stored_fails():
    ops = [Op("fwd", 1), Op("free", 1), Op("load", 1, "disk"), Op("bwd", 1)]
    numpy_msg, simpy_msg = run_both(Schedule(1, tuple(ops[:2]), tuple(ops[2:])))
    assert "a_1 is not on disk" in numpy_msg and "never stored there" in simpy_msg


def test_backward_steps_out_of_order_or_missing_fail():
    ops = (Op("fwd", 1), Op("fwd", 2), Op("bwd", 1))
    run_both(Schedule(2, ops[:2], ops[2:]))
    numpy_msg, simpy_msg = run_both(Schedule(2, ops[:2], (Op("bwd", 2),)))
    assert "never backpropagated" in numpy_msg and "never backpropagated" in simpy_msg


def test_input_load_makes_bwd_1_need_the_input_at_hand():
    ops = (Op("store", 0, "mem"), Op("fwd", 1), Op("free", 0), Op("bwd", 1))
    execute(Schedule(1, ops[:3], ops[3:]), MLP(1))  # the exam's convention: a_0 is the input batch
    run_both(Schedule(1, ops[:3], ops[3:], input_load=True))


def test_a_schedule_that_does_not_fit_ends_with_an_out_of_memory_report():
    schedule = schedule_of("store_all", 10)
    with pytest.raises(OutOfMemoryError) as error:
        simulate(schedule, chain(10, size=1000, capacity=4500), 1e12)
    message = str(error.value)
    assert "fwd 4 (op 10, forward pass)" in message and "1,000 bytes" in message and "4,000 of 4,500 bytes" in message


def test_disk_capacity_is_enforced():
    c = chain(6)
    c = Chain(c.sizes, c.fwd_s, c.bwd_s, c.fwd_flops, c.bwd_flops, c.memory, Tier(5e-8, capacity=3500))
    with pytest.raises(OutOfMemoryError, match="disk full on w0 .* storedisk a_4"):
        simulate(schedule_of("disk_offload", 6), c, 1e12)


@pytest.mark.parametrize("name", NAMES)
def test_memory_in_use_over_time_ends_with_nothing_held(name):
    trace = simulate(schedule_of(name, 9, 3 if name in PARAM else None), chain(9), 1e12)
    memory = trace.ops["memory_in_use"]
    assert memory.min() >= 0 and memory[-1] == 0  # the last op frees the input's checkpoint


def test_memory_in_use_grows_by_one_activation_per_forward_step_when_everything_is_kept():
    trace = simulate(schedule_of("store_all", 9), chain(9), 1e12)
    kinds = [trace.op_kinds[k] for k in trace.ops["kind"].tolist()]
    rows = [(i, m) for k, i, m in zip(kinds, trace.ops["index"].tolist(), trace.ops["memory_in_use"].tolist()) if k == "fwd"]
    assert rows == [(i, 1000 * (i + 1)) for i in range(1, 10)]
