"""Time a schedule on one simulated worker: compute, memory tier and disk, and memory over time.

The worker is one rank of a :class:`~distsim.engine.World` on a single node. It
runs the schedule's ops one after another (one GPU stream): ``fwd``/``bwd`` take
the layer's time, ``load``/``store`` take the tier's latency (plus size over its
bandwidth, when one is set), ``free`` takes no time. Before each op the bytes it
brings into device memory are allocated (so a schedule that does not fit stops
with an out-of-memory report naming the op and the bytes in use); the op table's
``memory_in_use`` column is the device memory after the op.

Trace metadata: ``backward_first_op`` (the row where the backward pass begins),
``backward_start_s`` and ``disk_peak_bytes``; the analyzer reads the counts from the op table.
"""

from __future__ import annotations

from distsim.engine import Device, World
from distsim.errors import OutOfMemoryError
from distsim.hardware.topology import single_node
from distsim.remat.chain import Chain
from distsim.remat.schedule import BWD, DISK, FREE, FWD, LOAD, Residency, Schedule
from distsim.trace import Trace


def simulate(schedule: Schedule, chain: Chain, flops: float) -> Trace:
    """Run ``schedule`` on one worker with ``chain``'s costs; the trace (OutOfMemoryError if it does not
    fit, carrying the trace until then as ``error.trace``)."""
    world = World(single_node(), ["w0"], [0], Device(flops, chain.memory.capacity), 1, copies_payloads=False)
    world.spawn(0, _worker(world, schedule, chain))
    try:
        world.run()
    except OutOfMemoryError as error:
        error.trace = world.trace  # what happened until then: the ops, and memory in use over time
        raise
    return world.trace


def _worker(world: World, schedule: Schedule, chain: Chain):
    ctx = world.contexts[0]
    ctx.zero_time_ops = len(schedule.ops) + 1  # frees (and free loads) take no time: not a livelock below this
    meta = world.trace.meta
    residency = Residency(chain.layers, chain.sizes, schedule.input_load)
    sizes, memory, disk = chain.sizes, chain.memory, chain.disk
    ctx.allocate(sizes[0], "the input a_0")
    boundary = len(schedule.forward)
    disk_peak = 0
    for position, op in enumerate(schedule.ops):
        if position == boundary:
            meta["backward_first_op"], meta["backward_start_s"] = len(world.trace.ops), ctx.now
        kind, i, tier = op
        device, disk_bytes = residency.apply(op, position)
        if device > 0:
            pass_name = "forward" if position < boundary else "backward"
            ctx.allocate(device, f"{op} (op {position}, {pass_name} pass)")
        elif device < 0:
            ctx.release(-device)
        disk_peak = max(disk_peak, residency.disk_bytes)
        if disk_bytes > 0 and disk.capacity is not None and residency.disk_bytes > disk.capacity:
            raise OutOfMemoryError(
                f"disk full on {ctx.name} at t={ctx.now:.9g} s storing {sizes[i]:,} bytes for {op} (op {position}): "
                f"{residency.disk_bytes - disk_bytes:,} of {int(disk.capacity):,} bytes already in use"
            )
        if kind == FWD:
            yield ctx.op(FWD, chain.fwd_s[i], flops=chain.fwd_flops[i], index=i)
        elif kind == BWD:
            yield ctx.op(BWD, chain.bwd_s[i], flops=chain.bwd_flops[i], index=i)
        elif kind == FREE:
            yield ctx.op(op.name, 0.0, nbytes=sizes[i], index=i)
        else:
            where = disk if tier == DISK else memory
            seconds = where.load_time(sizes[i]) if kind == LOAD else where.store_time(sizes[i])
            yield ctx.op(op.name, seconds, nbytes=sizes[i], index=i)
    if boundary == len(schedule.ops):
        meta["backward_first_op"], meta["backward_start_s"] = len(world.trace.ops), ctx.now
    residency.finish()
    meta["disk_peak_bytes"] = disk_peak
    return residency.device_bytes

