"""The narrow interface a strategy's process sees: send, recv, compute, allocate, stream, now.

A strategy never touches SimPy, links or traces directly; everything it does goes
through its rank's :class:`Context`, which times it on the hardware model and
records it. ``send`` and ``recv`` come from :mod:`distsim.engine.messaging`, streams
from :mod:`distsim.engine.streams`.

The device (docs/model.md, "The device"): a compute op takes its roofline time,
``max(flops / (peak x efficiency), bytes / memory bandwidth)`` (Williams et al.,
CACM 2009), times the rank's slowdown (a straggler's factor, and a jitter sample when
the run asks for one). Memory is counted by category (``trace/memory.py``), each
change a row of ``Trace.memory``. ``compute`` and ``allocate`` run once per op
(millions of times in a rematerialization benchmark), so they stay short.
"""

from __future__ import annotations

from heapq import heappush
from typing import TYPE_CHECKING

from simpy.events import NORMAL, Event

from distsim.engine import faults, streams
from distsim.engine.events import Decided
from distsim.engine.messaging import Channel, endpoint
from distsim.errors import OutOfMemoryError, StrategyBug
from distsim.trace.memory import CATEGORIES, breakdown_text

INF = float("inf")
_new = object.__new__
CATEGORY_CODE = {name: code for code, name in enumerate(CATEGORIES)}
ACTIVATIONS = "activations"

if TYPE_CHECKING:
    from distsim.engine.world import World


class Context:
    """One rank's view of the world.

    ``ctx.send(dst, tensor, phase, step)`` returns at once; ``yield ctx.recv(src)``
    waits for the next message from ``src`` and gives its tensor; ``yield ctx.compute(kind, flops)``
    and ``yield ctx.op(kind, seconds)`` take simulated time on this rank's device;
    ``ctx.stream(program)`` runs a program beside this one (the communication stream).
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
        self.memory_held = [0] * len(CATEGORIES)  # bytes by category (CATEGORIES order)
        self._peak_held = tuple(self.memory_held)  # memory_held when memory_peak was first reached
        device = world.device
        self._flop_rate = device.flops * device.efficiency  # x 1.0 is exact: no efficiency, today's flops / F
        self._memory_bandwidth = device.memory_bandwidth
        self._capacity = device.memory
        # The rank's slowdown: a straggler's factor, and a function drawing the next jitter factor (None: no
        # jitter); set by engine/variability.py before the run.
        self.slowdown = 1.0
        self.jitter = None
        self._streams: dict[str, object] = {}  # stream name -> its last program (engine/streams.py)
        self.outgoing: dict[int, Channel]
        self.incoming: dict[int, Channel]
        self.send, self.recv, self.sendrecv, self.outgoing, self.incoming = endpoint(world, rank)
        self._extend_ops, self._pack_op = world.trace.ops.sink()
        self._kind_codes: dict[str, int] = {}  # op kind -> its code in trace.op_kinds
        self._extend_memory, self._pack_memory = world.trace.memory.sink()
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
        """Record an operation of ``duration`` seconds starting now; yield the returned event to wait for it.

        The op's stream is the one whose program is running (``stream`` column: 0, the rank's own program).
        Runs once per op (millions of times in a rematerialization benchmark): the kind's code is cached
        per rank, and the event is made and scheduled inline (``Decided``, ``schedule_at``)."""
        env = self.env
        now = env._now
        if not 0.0 < duration < INF:  # zero, negative, infinite or NaN: the rare case, checked apart
            self._unusual_duration(kind, duration, now)
        end = now + duration
        code = self._kind_codes.get(kind)
        if code is None:
            code = self._kind_codes[kind] = self.world.trace.code(self.world.trace.op_kinds, kind)
        self._extend_ops(self._pack_op(self.rank, code, index, now, end, flops, nbytes, self.memory_in_use,
                                       getattr(env._active_proc, "stream", 0)))
        event = _new(Decided)  # Decided(env, None), without the call
        event.env, event.callbacks, event._ok, event._value = env, [], True, None
        heappush(env._queue, (end, NORMAL, next(env._eid), event))  # schedule_at(env, end, event)
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

    def compute(self, kind: str, flops: float, index: int = -1, nbytes: int = 0, seconds: float | None = None) -> Event:
        """A compute op of ``flops`` moving ``nbytes`` to and from device memory, on this rank's GPU.

        Its time is the roofline, ``max(flops / (gpu.flops x efficiency), nbytes / gpu.memory_bandwidth)``
        (the bytes term only when the GPU's memory bandwidth is known), or ``seconds`` when the workload gives
        the time itself; either way times the rank's slowdown (straggler factor x jitter sample).
        """
        if seconds is None:
            seconds = flops / self._flop_rate
            if nbytes and self._memory_bandwidth is not None:
                moved = nbytes / self._memory_bandwidth
                if moved > seconds:
                    seconds = moved
        if self.jitter is None:
            seconds *= self.slowdown
        else:
            seconds *= self.slowdown * self.jitter()
        return self.op(kind, seconds, flops=flops, nbytes=int(nbytes), index=index)

    def stream(self, program, name: str = "comm"):
        """Run ``program`` (a generator) beside this rank's own, as its stream ``name``; ``yield`` the returned
        process to wait for it. Programs given to one stream run one after another, in the order given (as
        kernels on one CUDA stream, or collectives on one NCCL communicator): see engine/streams.py."""
        return streams.start(self, program, name)

    def allocate(self, nbytes: int, what: str, category: str = ACTIVATIONS) -> None:
        """Claim device memory for ``what``, counted in ``category`` (trace/memory.py: weights, gradients,
        optimizer, activations, buffers); an allocation beyond capacity stops the run with a report."""
        code = CATEGORY_CODE.get(category)
        if code is None or type(nbytes) is not int:
            nbytes, code = self._checked(nbytes, what, category)
        in_use = self.memory_in_use + nbytes
        if in_use > self._capacity or nbytes < 0:
            self._cannot_allocate(nbytes, what, category)
        held = self.memory_held
        held[code] += nbytes
        self.memory_in_use = in_use
        self._extend_memory(self._pack_memory(self.rank, code, self.env._now, held[code], in_use))
        if in_use > self.memory_peak:
            self.memory_peak = in_use
            self._peak_held = tuple(held)

    def release(self, nbytes: int, category: str = ACTIVATIONS) -> None:
        """Give back device memory of ``category`` this rank holds (releasing more than it holds is a strategy bug)."""
        code = CATEGORY_CODE.get(category)
        if code is None or type(nbytes) is not int:
            nbytes, code = self._checked(nbytes, "a release", category)
        held = self.memory_held
        if not 0 <= nbytes <= held[code]:
            raise StrategyBug(f"releases {nbytes:,} bytes but holds {held[code]:,} (of {category})", self.name)
        held[code] -= nbytes
        self.memory_in_use -= nbytes
        self._extend_memory(self._pack_memory(self.rank, code, self.env._now, held[code], self.memory_in_use))

    def memory_by_category(self) -> dict[str, int]:
        """Bytes this rank holds now, by category."""
        return dict(zip(CATEGORIES, self.memory_held))

    @property
    def memory_peak_by_category(self) -> dict[str, int]:
        """What this rank held, by category, when its memory in use first reached its peak."""
        return dict(zip(CATEGORIES, self._peak_held))

    def _checked(self, nbytes, what: str, category: str) -> tuple[int, int]:
        """(whole bytes, category code), or a StrategyBug: an unknown category, a size that is not a whole number."""
        code = CATEGORY_CODE.get(category)
        if code is None:
            raise StrategyBug(f"counts {what} in memory category {category!r}; the categories are "
                              f"{', '.join(CATEGORIES)}", self.name)
        try:
            whole = int(nbytes)
        except (TypeError, ValueError, OverflowError):
            whole = None
        if whole is None or whole != nbytes:
            raise StrategyBug(f"allocates {nbytes} bytes for {what}; an allocation is a non-negative number of bytes",
                              self.name)
        return whole, code

    def _cannot_allocate(self, nbytes: int, what: str, category: str) -> None:
        if nbytes < 0:
            raise StrategyBug(f"allocates {nbytes} bytes for {what}; an allocation is a non-negative number of bytes",
                              self.name)
        capacity = int(self.world.device.memory)
        raise OutOfMemoryError(
            f"out of memory on {self.name} at t={self.now:.9g} s allocating {nbytes:,} bytes for {what}: "
            f"{self.memory_in_use:,} of {capacity:,} bytes already in use "
            f"({breakdown_text(self.memory_by_category())}; asked for: {category})",
            rank=self.name, time=self.now, what=what, category=category, nbytes=nbytes,
            by_category=self.memory_by_category(), capacity=capacity,
        )
