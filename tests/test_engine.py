"""The engine's model, pinned with exact numbers: links, ports, FIFO, deadlocks, memory."""

from __future__ import annotations

import pytest

from distsim.engine import Device, Phantom, World
from distsim.errors import DeadlockError, OutOfMemoryError, SimulationError, StrategyBug
from distsim.hardware import build_topology, transfer_time

BW, ALPHA = 1e9, 1e-6


def world(n: int, topology: str = "switch", memory: float = 1e12) -> World:
    names = [f"w{i}" for i in range(n)]
    return World(build_topology(topology, names, BW, ALPHA), names, list(range(n)), Device(1e12, memory), 4)


def test_one_message_on_free_links_takes_alpha_plus_bytes_over_beta():
    w = world(2)

    def sender(ctx):
        ctx.send(1, Phantom(250), "x")
        yield from ()

    def receiver(ctx):
        yield ctx.recv(0)

    w.spawn(0, sender(w.contexts[0]))
    w.spawn(1, receiver(w.contexts[1]))
    w.run()
    m = w.trace.messages
    assert m["t_arrive"][0] == transfer_time(1000, BW, ALPHA) == 1000 / BW + ALPHA
    assert w.trace.makespan == m["t_arrive"][0]


def test_two_senders_to_one_receiver_share_its_downlink_first_come_first_served():
    w = world(3)

    def sender(ctx):
        ctx.send(2, Phantom(250))
        yield from ()

    def receiver(ctx):
        yield ctx.recv(0)
        yield ctx.recv(1)

    for rank in (0, 1):
        w.spawn(rank, sender(w.contexts[rank]))
    w.spawn(2, receiver(w.contexts[2]))
    w.run()
    m = w.trace.messages
    duration = 1000 / BW
    assert list(m["t_start"]) == [0.0, 0.0]  # both leave their own ports at once...
    # ...and the second waits at the switch for the first to leave w2's downlink.
    assert w.trace.links[m["blocked_by"][1]].name == "switch->w2"
    assert m["t_arrive"][1] == pytest.approx(2 * duration + ALPHA, rel=1e-12)


def test_latency_pipelines_back_to_back_messages():
    w = world(2)

    def sender(ctx):
        for _ in range(3):
            ctx.send(1, Phantom(250))
        yield from ()

    def receiver(ctx):
        for _ in range(3):
            yield ctx.recv(0)

    w.spawn(0, sender(w.contexts[0]))
    w.spawn(1, receiver(w.contexts[1]))
    w.run()
    duration = 1000 / BW
    assert w.trace.makespan == pytest.approx(3 * duration + ALPHA, rel=1e-12)  # not 3 * (duration + alpha)


def test_a_queued_message_does_not_reserve_links_it_cannot_use_yet():
    # w0 queues two messages on its port (to w1, then w2); w1 -> w2 starts at once on w2's idle
    # downlink instead of waiting behind w0's second message, which leaves w0 only later.
    w = world(3)

    def w0(ctx):
        ctx.send(1, Phantom(250))
        ctx.send(2, Phantom(250))
        yield from ()

    def w1(ctx):
        ctx.send(2, Phantom(250))
        yield ctx.recv(0)

    def w2(ctx):
        yield ctx.recv(0)
        yield ctx.recv(1)

    for rank, program in enumerate((w0, w1, w2)):
        w.spawn(rank, program(w.contexts[rank]))
    w.run()
    m = w.trace.messages
    rows = {(int(s), int(d)): float(t) for s, d, t in zip(m["src"], m["dst"], m["t_start"])}
    assert rows[(1, 2)] == 0.0
    assert rows[(0, 2)] == 1000 / BW


def test_deadlock_is_reported_with_who_waits_on_whom():
    w = world(2)

    def stubborn(ctx, peer):
        yield ctx.recv(peer)

    w.spawn(0, stubborn(w.contexts[0], 1))
    w.spawn(1, stubborn(w.contexts[1], 0))
    with pytest.raises(DeadlockError) as err:
        w.run()
    text = str(err.value)
    assert "w0 waits for a message from w1" in text and "w1 waits for a message from w0" in text
    assert "cycle: w0 -> w1 -> w0" in text or "cycle: w1 -> w0 -> w1" in text


def test_a_message_never_received_fails_the_run():
    w = world(2)

    def sender(ctx):
        ctx.send(1, Phantom(1))
        yield from ()

    def idle(ctx):
        yield from ()

    w.spawn(0, sender(w.contexts[0]))
    w.spawn(1, idle(w.contexts[1]))
    with pytest.raises(SimulationError, match="1 messages were sent but never received: 1 from w0 to w1"):
        w.run()


def test_allocation_beyond_capacity_is_an_out_of_memory_report():
    w = world(2, memory=1000)

    def hungry(ctx):
        ctx.allocate(600, "activations")
        ctx.allocate(600, "more activations")
        yield from ()

    w.spawn(0, hungry(w.contexts[0]))
    with pytest.raises(OutOfMemoryError, match="out of memory on w0 .* 600 bytes for more activations: 600 of 1,000"):
        w.run()


def test_sends_between_ranks_on_one_node_are_local_copies_not_messages():
    names = ["w0", "w1"]
    w = World(build_topology("switch", names, BW, ALPHA), names + ["ps"], [0, 1, 0], Device(1e12, 1e12), 4)

    def worker(ctx):
        ctx.send(2, Phantom(10))
        yield ctx.recv(2)

    def server(ctx):
        for rank in (0, 1):
            yield ctx.recv(rank)
        for rank in (0, 1):
            ctx.send(rank, Phantom(10))

    for rank in (0, 1):
        w.spawn(rank, worker(w.contexts[rank]))
    w.spawn(2, server(w.contexts[2]))
    w.run()
    m = w.trace.messages
    assert sorted(zip(m["src"].tolist(), m["dst"].tolist())) == [(1, 2), (2, 1)]


def test_compute_ops_take_flops_over_device_throughput_and_are_recorded():
    w = world(2)

    def worker(ctx):
        yield ctx.compute("reduce", 5e11, index=3)

    w.spawn(0, worker(w.contexts[0]))
    w.run()
    ops = w.trace.ops
    assert ops["t_end"][0] == 0.5 and ops["index"][0] == 3
    assert w.trace.op_kinds[ops["kind"][0]] == "reduce"


# -- the calendar and the rank process: engine internals with SimPy's semantics ------------------


def test_events_due_at_one_instant_run_in_the_order_they_were_scheduled():
    import simpy

    from distsim.engine.calendar import Calendar
    from distsim.engine.events import Decided

    env = simpy.Environment()
    calendar = Calendar(env)
    seen = []
    for name, time in [("a", 2.0), ("b", 1.0), ("c", 2.0), ("d", 1.0)]:
        event = Decided(env, name)
        event.callbacks.append(lambda e: seen.append((env.now, e.value)))
        calendar.at(time, event)
    late = Decided(env, "e")
    late.callbacks.append(lambda e: seen.append((env.now, e.value)))
    first = Decided(env, "f")  # scheduled for an instant that is already firing
    first.callbacks.append(lambda e: calendar.at(env.now, late))
    calendar.at(1.0, first)
    env.run()
    assert seen == [(1.0, "b"), (1.0, "d"), (1.0, "e"), (2.0, "a"), (2.0, "c")]
    assert calendar.due == {}


def test_an_exception_in_a_rank_ends_the_run_as_a_located_strategy_bug():
    w = world(2)

    def broken(ctx):
        yield ctx.op("x", 1.0)
        raise ZeroDivisionError("strategy bug")

    w.spawn(1, broken(w.contexts[1]))
    with pytest.raises(StrategyBug, match=r"on rank w1 at .*test_engine\.py:\d+: ZeroDivisionError: strategy bug") as caught:
        w.run()
    assert isinstance(caught.value.__cause__, ZeroDivisionError)  # the original, for a debugger
    assert caught.value.exit_code == 3


def test_a_rank_can_handle_a_failed_event_and_wait_on_processed_ones():
    import simpy

    from distsim.engine.process import RankProcess

    env = simpy.Environment()
    log = []

    def failing(env):
        yield env.timeout(1)
        raise ValueError("boom")

    def program(env, other):
        try:
            yield other
        except ValueError as exc:
            log.append(("caught", str(exc), env.now))
        done = env.event().succeed("ready")
        yield env.timeout(1)
        log.append(("processed", (yield done), env.now))  # already processed: continues at once
        return "finished"

    other = env.process(failing(env))
    process = RankProcess(env, program(env, other))
    env.run()
    assert log == [("caught", "boom", 1), ("processed", "ready", 2)]
    assert process.value == "finished"


def test_yielding_something_that_is_not_an_event_is_a_clear_error():
    w = world(2)

    def confused(ctx):
        yield 42

    w.spawn(0, confused(w.contexts[0]))
    with pytest.raises(StrategyBug, match=r"on rank w0 at .*test_engine\.py:\d+: yielded 42 \(of type int\), not an event"):
        w.run()
