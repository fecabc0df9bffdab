"""The narrow interface a strategy's process sees: send, recv, compute, allocate, now.

A strategy never touches SimPy, links or traces directly; everything it does goes
through its rank's :class:`Context`, which times it on the hardware model and
records it. ``send`` and ``recv`` come from :mod:`distsim.engine.messaging`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simpy.events import Event

from distsim.engine import faults
from distsim.engine.events import Decided
from distsim.engine.messaging import Channel, endpoint, schedule_at
from distsim.errors import OutOfMemoryError, StrategyBug

INF = float("inf")

if TYPE_CHECKING:
    from distsim.engine.world import World


class Context:
    """One rank's view of the world.

    ``ctx.send(dst, tensor, phase, step)`` returns at once; ``yield ctx.recv(src)``
    waits for the next message from ``src`` and gives its tensor; ``yield ctx.compute(kind, flops)``
    and ``yield ctx.op(kind, seconds)`` take simulated time on this rank's device.
    """

    def __init__(self, world: "World", rank: int):
        self.world = world
        self.rank = rank
        self.name = world.ranks[rank]
        self.node = world.placement[rank]
        self.env = world.env
        self.bytes_per_element = world.bytes_per_element
        self.memory_in_use = 0
        self.memory_peak = 0
        self.outgoing: dict[int, Channel]
        self.incoming: dict[int, Channel]
        self.send, self.recv, self.sendrecv, self.outgoing, self.incoming = endpoint(world, rank)
        self._extend_ops, self._pack_op = world.trace.ops.sink()
        # Livelock watch: zero-duration ops in a row at one instant (see engine/faults.py). An executor
        # that knows how many ops it runs may raise the limit for itself (zero_time_ops).
        self.zero_time_ops = 0
        self._zero_at, self._zero_count = -1.0, 0

    @property
    def now(self) -> float:
        return self.env._now

    def waiting_on(self) -> list[int]:
        """Ranks this rank is blocked on (for deadlock reports)."""
        return [src for src, channel in self.incoming.items() if channel.waiters]

    def unreceived(self) -> list[tuple[int, int]]:
        """(sender, count) of messages that arrived here and were never received."""
        return [(src, len(channel.arrivals)) for src, channel in self.incoming.items() if channel.arrivals]

    # -- computation and memory --------------------------------------------
    def op(self, kind: str, duration: float, flops: float = 0.0, nbytes: int = 0, index: int = -1) -> Event:
        """Record an operation of ``duration`` seconds starting now; yield the returned event to wait for it."""
        now = self.env._now
        if not 0.0 < duration < INF:  # zero, negative, infinite or NaN: the rare case, checked apart
            self._unusual_duration(kind, duration, now)
        end = now + duration
        trace = self.world.trace
        self._extend_ops(
            self._pack_op(self.rank, trace.code(trace.op_kinds, kind), index, now, end, flops, nbytes, self.memory_in_use)
        )
        event = Decided(self.env, None)
        schedule_at(self.env, end, event)
        return event

    def _unusual_duration(self, kind: str, duration: float, now: float) -> None:
        """An op of zero seconds is fine, unless a rank does nothing else at one instant (a livelock);
        NaN, infinite and negative durations are strategy bugs."""
        if duration != 0.0:
            raise StrategyBug(f"op {kind!r} lasts {duration:.6g} s; an op lasts a finite, non-negative time", self.name)
        if now != self._zero_at:
            self._zero_at, self._zero_count = now, 0
        self._zero_count += 1
        limit = max(faults.ZERO_TIME_LIMIT, self.zero_time_ops)
        if self._zero_count > limit:
            raise StrategyBug(f"more than {limit:,} zero-duration ops in a row at t={now:.9g} s (the last {kind!r}): "
                              "a livelock", self.name)

    def compute(self, kind: str, flops: float, index: int = -1) -> Event:
        """A compute op of ``flops`` on this rank's GPU: flops / (device FLOP/s) seconds."""
        return self.op(kind, flops / self.world.device.flops, flops=flops, index=index)

    def allocate(self, nbytes: int, what: str) -> None:
        """Claim device memory; an allocation beyond capacity stops the run with a report."""
        capacity = self.world.device.memory
        if not nbytes >= 0:
            raise StrategyBug(f"allocates {nbytes} bytes for {what}; an allocation is a non-negative number of bytes", self.name)
        if self.memory_in_use + nbytes > capacity:
            raise OutOfMemoryError(
                f"out of memory on {self.name} at t={self.now:.9g} s allocating {nbytes:,} bytes for {what}: "
                f"{self.memory_in_use:,} of {int(capacity):,} bytes already in use"
            )
        self.memory_in_use += nbytes
        self.memory_peak = max(self.memory_peak, self.memory_in_use)

    def release(self, nbytes: int) -> None:
        """Give back device memory this rank holds (releasing more than it holds is a strategy bug)."""
        if not 0 <= nbytes <= self.memory_in_use:
            raise StrategyBug(f"releases {nbytes:,} bytes but holds {self.memory_in_use:,}", self.name)
        self.memory_in_use -= nbytes
