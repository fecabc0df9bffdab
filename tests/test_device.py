"""The device (issue 9): roofline compute, memory by category, streams. Exact numbers throughout."""

from __future__ import annotations

import pytest

from distsim.engine import Device, Phantom, World
from distsim.errors import DeadlockError, OutOfMemoryError, StrategyBug
from distsim.hardware import build_topology
from distsim.trace.memory import CATEGORIES, peaks

BW, ALPHA = 1e9, 1e-6
PEAK, HBM = 1e15, 2e12  # 1 PFLOP/s, 2 TB/s: the ridge point is 500 FLOP per byte


def world(n: int = 2, efficiency: float = 1.0, bandwidth: float | None = HBM, memory: float = 1e12) -> World:
    names = [f"w{i}" for i in range(n)]
    return World(build_topology("switch", names, BW, ALPHA), names, list(range(n)),
                 Device(PEAK, memory, efficiency, bandwidth), 4)


def run_one(w: World, program) -> World:
    w.spawn(0, program(w.contexts[0]))
    w.run()
    return w


# -- the roofline ---------------------------------------------------------------------------------

def test_a_compute_bound_op_takes_flops_over_peak_times_efficiency():
    def worker(ctx):
        yield ctx.compute("matmul", 4e12, nbytes=10**9)  # 4 ms of compute, 0.5 ms of memory traffic

    ops = run_one(world(efficiency=0.5), worker).trace.ops
    assert ops["t_end"][0] == 4e12 / (PEAK * 0.5) == 8e-3
    assert ops["flops"][0] == 4e12 and ops["nbytes"][0] == 10**9


def test_a_memory_bound_op_takes_bytes_over_memory_bandwidth():
    def worker(ctx):
        yield ctx.compute("layernorm", 1e9, nbytes=4 * 10**9)  # 1 us of compute, 2 ms of memory traffic

    ops = run_one(world(), worker).trace.ops
    assert ops["t_end"][0] == 4e9 / HBM == 2e-3


def test_at_the_ridge_point_both_roofs_agree():
    def worker(ctx):
        yield ctx.compute("ridge", 500 * 10**9, nbytes=10**9)

    assert run_one(world(), worker).trace.ops["t_end"][0] == 5e-4


def test_without_efficiency_or_bytes_compute_is_exactly_flops_over_peak():
    """The exam's convention: today's f / F to the last bit, whether or not the GPU's bandwidth is known."""
    flops = [3.0, 7e11, 1 / 3, 123456789.123]
    for bandwidth in (None, HBM):
        def worker(ctx):
            for f in flops:
                yield ctx.compute("reduce", f)

        ops = run_one(world(bandwidth=bandwidth), worker).trace.ops
        durations = (ops["t_end"] - ops["t_start"]).tolist()
        starts = [0.0]
        for f in flops[:-1]:
            starts.append(starts[-1] + f / PEAK)
        assert ops["t_start"].tolist() == starts
        assert ops["t_end"].tolist() == [s + f / PEAK for s, f in zip(starts, flops)]
        assert len(durations) == 4


def test_bytes_are_ignored_when_the_memory_bandwidth_is_not_known():
    def worker(ctx):
        yield ctx.compute("copy", 0.0, nbytes=10**12)
        yield ctx.compute("add", 1e12, nbytes=10**12)

    ops = run_one(world(bandwidth=None), worker).trace.ops
    assert ops["t_end"].tolist() == [0.0, 1e-3]


def test_a_given_time_replaces_the_roofline():
    def worker(ctx):
        yield ctx.compute("fwd", 1e15, index=4, seconds=0.25)

    ops = run_one(world(), worker).trace.ops
    assert ops["t_end"][0] == 0.25 and ops["flops"][0] == 1e15 and ops["index"][0] == 4


# -- memory by category ---------------------------------------------------------------------------

def test_memory_is_counted_by_category_and_each_change_is_a_row_of_the_memory_table():
    def worker(ctx):
        ctx.allocate(1000, "weights", "weights")
        ctx.allocate(3000, "Adam state", "optimizer")
        yield ctx.op("wait", 1.0)
        ctx.allocate(500, "block 0 activations")  # default category: activations
        ctx.allocate(200, "bucket", "buffers")
        assert ctx.memory_by_category() == {"weights": 1000, "gradients": 0, "optimizer": 3000,
                                            "activations": 500, "buffers": 200}
        ctx.release(500)
        ctx.release(200, "buffers")
        yield ctx.op("wait", 1.0)
        ctx.allocate(100, "gradients", "gradients")

    w = run_one(world(), worker)
    ctx, m = w.contexts[0], w.trace.memory
    assert [CATEGORIES[c] for c in m["category"].tolist()] == [
        "weights", "optimizer", "activations", "buffers", "activations", "buffers", "gradients"]
    assert m["t"].tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0]
    assert m["nbytes"].tolist() == [1000, 3000, 500, 200, 0, 0, 100]
    assert m["total"].tolist() == [1000, 4000, 4500, 4700, 4200, 4000, 4100]
    assert ctx.memory_in_use == 4100 and ctx.memory_peak == 4700
    assert ctx.memory_peak_by_category == {"weights": 1000, "gradients": 0, "optimizer": 3000,
                                           "activations": 500, "buffers": 200}
    (peak,) = peaks(w.trace.memory, 2).values()  # read back from the trace alone
    assert (peak.total, peak.t, peak.by_category) == (4700, 1.0, ctx.memory_peak_by_category)


def test_out_of_memory_names_the_rank_what_the_time_and_the_breakdown():
    def worker(ctx):
        ctx.allocate(600, "weights", "weights")
        ctx.allocate(300, "gradients", "gradients")
        yield ctx.op("forward", 0.5)
        ctx.allocate(200, "block 3 activations")

    w = world(memory=1000)
    with pytest.raises(OutOfMemoryError) as caught:
        run_one(w, worker)
    error = caught.value
    assert str(error) == ("out of memory on w0 at t=0.5 s allocating 200 bytes for block 3 activations: 900 of 1,000 "
                          "bytes already in use (weights 600 bytes, gradients 300 bytes; asked for: activations)")
    assert (error.rank, error.time, error.what, error.category, error.nbytes) == ("w0", 0.5, "block 3 activations",
                                                                                  "activations", 200)
    assert error.by_category == {"weights": 600, "gradients": 300, "optimizer": 0, "activations": 0, "buffers": 0}


@pytest.mark.parametrize("misuse, message", [
    (lambda ctx: ctx.allocate(10, "x", "activation"), "memory category 'activation'"),
    (lambda ctx: ctx.allocate(1.5, "x"), "allocates 1.5 bytes for x"),
    (lambda ctx: ctx.allocate(-1, "x"), "allocates -1 bytes for x"),
    (lambda ctx: (ctx.allocate(10, "w", "weights"), ctx.release(10)), "releases 10 bytes but holds 0 (of activations)"),
])
def test_misused_memory_is_a_strategy_bug(misuse, message):
    def worker(ctx):
        misuse(ctx)
        yield ctx.op("x", 1.0)

    with pytest.raises(StrategyBug, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_one(world(), worker)


# -- streams --------------------------------------------------------------------------------------

def test_a_compute_op_and_a_message_on_the_communication_stream_overlap_exactly():
    """w0 sends 1 MB on its comm stream while computing 2 ms on its own: both start at 0, the message
    arrives at alpha + b/beta (1.001 ms), the compute ends at 2 ms, and the run when the later ends."""
    w = world()
    nbytes = 10**6

    def send(ctx):
        ctx.send(1, Phantom(nbytes // 4), "bucket")
        yield ctx.op("launch", 0.0)

    def worker(ctx):
        comm = ctx.stream(send(ctx))
        yield ctx.compute("backward", 2e12)
        yield comm

    def receiver(ctx):
        yield ctx.recv(0)

    w.spawn(0, worker(w.contexts[0]))
    w.spawn(1, receiver(w.contexts[1]))
    w.run()
    m, ops = w.trace.messages, w.trace.ops
    assert m["t_send"][0] == 0.0 and m["t_arrive"][0] == ALPHA + nbytes / BW
    backward = ops["kind"].tolist().index(w.trace.op_kinds.index("backward"))
    assert ops["t_start"][backward] == 0.0 and ops["t_end"][backward] == 2e-3
    assert w.trace.streams[:2] == ["compute", "comm"]
    assert dict(zip([w.trace.op_kinds[k] for k in ops["kind"].tolist()], ops["stream"].tolist())) == {
        "launch": 1, "backward": 0}
    assert w.trace.makespan == 2e-3


def test_work_given_to_one_stream_runs_in_order_one_piece_after_another():
    w = world()

    def piece(ctx, seconds, name):
        yield ctx.op(name, seconds)

    def worker(ctx):
        first = ctx.stream(piece(ctx, 2.0, "first"))
        second = ctx.stream(piece(ctx, 1.0, "second"))
        other = ctx.stream(piece(ctx, 0.5, "other"), name="prefetch")
        yield ctx.op("compute", 0.25)
        yield second
        assert not first.is_alive and not other.is_alive

    ops = run_one(w, worker).trace.ops
    rows = {w.trace.op_kinds[k]: (s, e, st) for k, s, e, st in zip(
        ops["kind"].tolist(), ops["t_start"].tolist(), ops["t_end"].tolist(), ops["stream"].tolist())}
    assert rows == {"compute": (0.0, 0.25, 0), "first": (0.0, 2.0, 1), "second": (2.0, 3.0, 1), "other": (0.0, 0.5, 2)}
    assert w.trace.streams == ["compute", "comm", "prefetch"] and w.trace.makespan == 3.0


def test_a_rank_is_done_when_its_last_stream_is_even_if_never_waited_for():
    def late(ctx):
        yield ctx.op("all-reduce", 5.0)

    def worker(ctx):
        ctx.stream(late(ctx))
        yield ctx.op("compute", 1.0)

    assert run_one(world(), worker).trace.makespan == 5.0


def test_a_stream_that_can_never_finish_is_a_deadlock_of_its_rank():
    def waits(ctx):
        yield ctx.recv(1)

    def worker(ctx):
        ctx.stream(waits(ctx))
        yield ctx.op("compute", 1.0)

    def idle(ctx):
        yield ctx.op("idle", 1.0)

    w = world()
    w.spawn(1, idle(w.contexts[1]))
    with pytest.raises(DeadlockError, match="w0 waits for a message from w1"):
        run_one(w, worker)


def test_a_bug_in_a_stream_is_located_in_its_own_code():
    def broken(ctx):
        yield ctx.op("x", 1.0)
        raise ValueError("boom")

    def worker(ctx):
        yield ctx.stream(broken(ctx))

    with pytest.raises(StrategyBug) as caught:
        run_one(world(), worker)
    assert caught.value.rank == "w0" and "ValueError: boom" in str(caught.value)
    assert caught.value.where and "test_device.py" in caught.value.where


@pytest.mark.parametrize("name", ["compute", "", 3])
def test_a_stream_needs_a_name_other_than_the_rank_program(name):
    def nothing(ctx):
        yield ctx.op("x", 1.0)

    def worker(ctx):
        yield ctx.stream(nothing(ctx), name=name)

    with pytest.raises(StrategyBug, match="starts a stream named"):
        run_one(world(), worker)


# -- properties and the scenario's device -----------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.lists(st.tuples(st.sampled_from(CATEGORIES), st.integers(-500, 1000), st.booleans()), max_size=40))
def test_the_memory_table_always_adds_up_and_gives_the_peak_the_context_kept(steps):
    """Random allocations and releases (a release only of what is held), some after time passes: every row's
    total is the sum of the categories' latest bytes, and the peak read from the table is the context's."""
    def worker(ctx):
        for category, amount, wait in steps:
            if amount >= 0:
                ctx.allocate(amount, "x", category)
            else:
                ctx.release(min(-amount, ctx.memory_by_category()[category]), category)
            if wait:
                yield ctx.op("wait", 1.0)
        yield ctx.op("end", 1.0)

    w = run_one(world(memory=1e15), worker)
    ctx, m = w.contexts[0], w.trace.memory
    levels = dict.fromkeys(CATEGORIES, 0)
    for category, nbytes, total in zip(m["category"].tolist(), m["nbytes"].tolist(), m["total"].tolist()):
        levels[CATEGORIES[category]] = nbytes
        assert total == sum(levels.values())
    assert levels == ctx.memory_by_category() and ctx.memory_in_use == sum(levels.values())
    found = peaks(m, 2)
    if ctx.memory_peak:
        assert (found[0].total, found[0].by_category) == (ctx.memory_peak, ctx.memory_peak_by_category)


def test_a_scenarios_gpu_gives_the_device_its_efficiency_and_memory_bandwidth():
    import distsim
    from distsim.devices import device_of

    scenario, _ = distsim.loads("cluster: {preset: dgx-h100, nodes: 1, gpu: {efficiency: 0.5}}\nmodel: {params: 8}\n"
                                "strategy: {kind: ring_allreduce, reduce_compute: true}\n")
    assert device_of(scenario.cluster) == Device(989e12, 80e9, 0.5, 3.35e12)
    (outcome,) = distsim.run(scenario)
    ops = outcome.trace.ops
    assert len(ops) and (ops["t_end"] - ops["t_start"]).tolist() == pytest.approx(
        (ops["flops"] / (989e12 * 0.5)).tolist(), rel=1e-9)


@given(st.lists(st.tuples(st.floats(0, 1e13), st.integers(0, 10**11)), min_size=1, max_size=8),
       st.floats(0.05, 1.0), st.sampled_from([None, 1e12, 3.35e12]))
def test_every_compute_op_takes_the_larger_of_its_two_roofs(ops, efficiency, bandwidth):
    def worker(ctx):
        for flops, nbytes in ops:
            yield ctx.compute("op", flops, nbytes=nbytes)

    trace = run_one(world(efficiency=efficiency, bandwidth=bandwidth), worker).trace
    now = 0.0
    for (flops, nbytes), start, end in zip(ops, trace.ops["t_start"].tolist(), trace.ops["t_end"].tolist()):
        roof = max(flops / (PEAK * efficiency), nbytes / bandwidth if bandwidth else 0.0)
        assert (start, end) == (now, now + roof)
        now = end


def test_a_layer_chain_given_by_flops_runs_at_the_gpus_efficiency():
    import distsim

    text = ("cluster: {workers: 1, gpu: {flops: 1e12, efficiency: EFF}}\n"
            "model: {layers: 4, layer: {fwd_flops: 1e9, activation: 1 MiB}}\nstrategy: {kind: store_all}\n")
    full, half = (distsim.run(distsim.loads(text.replace("EFF", e))[0])[0] for e in ("1.0", "0.5"))
    assert full.ok and half.ok
    fwd = [(o.trace.ops["t_end"] - o.trace.ops["t_start"])[o.trace.ops["kind"] == o.trace.op_kinds.index("fwd")]
           for o in (full, half)]
    assert fwd[0].tolist() == [1e-3] * 4 and fwd[1].tolist() == [2e-3] * 4
