"""Point-to-point messages: mailboxes. When bytes leave and arrive is the network model's business.

``send`` hands a message to the network (``world.network.transmit``) and ``recv``
returns the event that fires when the next message from a given sender arrives. The
arrival is the one event per message the receiver sees: the network delivers the very
event the receiver waits on (if it is already waiting) at the arrival time, otherwise
the arrival waits in the per-(sender, receiver) channel. No stores, no filters.

``send``, ``recv`` and ``sendrecv`` are closures over the world's state rather than
methods: a closure variable is read several times faster than ``self.attribute``, and
they run once per message (two million times in a 1,024-worker ring all-reduce).
"""

from __future__ import annotations

from heapq import heappush

from simpy.events import NORMAL, PENDING, Event

from distsim.engine import faults
from distsim.engine.events import Decided
from distsim.engine.faults import check_ranks
from distsim.errors import StrategyBug


class Channel(tuple):
    """Messages from one rank to another, as one tuple that ``send`` unpacks in a single step:

    ``(path, arrivals, waiters, on_network)``

    ``path`` is what the network model keeps about the route (``Network.path``).
    ``arrivals`` holds arrival events the receiver has not asked for yet (the sender
    is ahead); ``waiters`` holds the receiver's events waiting for messages not yet
    sent (the receiver is ahead); at most one of the two is non-empty. They are plain
    lists: they rarely hold more than one event, and an all-to-all on 1,024 workers
    has a million channels. ``on_network`` is False between ranks on the same node:
    such a send is a local copy, takes no time and is not a message.
    """

    __slots__ = ()

    def __new__(cls, path, on_network: bool = True):
        return super().__new__(cls, (path, [], [], on_network))

    def with_path(self, path, on_network: bool) -> "Channel":
        """The same mailboxes on another path (a failure changed or cut the route)."""
        return tuple.__new__(Channel, (path, self[1], self[2], on_network))

    @property
    def is_local(self) -> bool:
        """Between two ranks on one node (no path at all)."""
        return not self[3] and self[0] is None

    @property
    def arrivals(self) -> list:
        return self[1]

    @property
    def waiters(self) -> list:
        return self[2]


def schedule_at(env, time: float, event: Event) -> None:
    """Put ``event`` on SimPy's queue at absolute ``time`` (``env.schedule`` takes a delay,
    and now + (time - now) can differ from ``time`` in the last bit)."""
    heappush(env._queue, (time, NORMAL, next(env._eid), event))


def endpoint(world, rank: int):
    """The ``(send, recv)`` pair of ``rank``: see the module docstring for the model."""
    env = world.env
    queue_heap, event_ids = env._queue, env._eid  # SimPy's own heap and counter, as env.schedule uses them
    transmit = world.network.transmit
    contexts = world.contexts
    bytes_per_element = world.bytes_per_element
    copies = world.copies_payloads
    phases = world.trace.phases
    phase_codes: dict[str, int] = {}
    new = object.__new__
    outgoing: dict[int, Channel] = {}
    incoming: dict[int, Channel] = {}
    local_at = [None, 0]  # the instant of this rank's last local copy, and how many it sent at that instant

    def local_copy(now: float) -> None:
        """Count a local copy: it takes no time, so ranks on one node that copy to each other without end
        would hold the clock still for ever (a livelock, reported as zero-duration ops are)."""
        if local_at[0] != now:
            local_at[0], local_at[1] = now, 0
        local_at[1] += 1
        if local_at[1] > faults.ZERO_TIME_LIMIT:
            raise StrategyBug(f"sent more than {faults.ZERO_TIME_LIMIT:,} local copies (to ranks on its node) in a row "
                              f"at t={now:.9g} s without simulated time passing: a livelock")

    def open_channel(src: int, dst: int) -> Channel:
        """The channel src -> dst, created on first use by either end."""
        check_ranks(src, dst, len(contexts))
        if world.placement[src] == world.placement[dst]:
            channel = Channel(None, on_network=False)
        else:
            route = world.route(src, dst)
            channel = Channel(world.network.path(route)) if route is not None else Channel(world.cuts[-1], on_network=False)
        contexts[src].outgoing[dst] = channel
        contexts[dst].incoming[src] = channel
        return channel

    def sendrecv(dst: int, tensor, src: int, phase: str = "", step: int = 0) -> Event | None:
        """Send ``tensor`` to rank ``dst``, then return the event of the next message from ``src``
        (MPI_Sendrecv: one call, as a ring step needs). With ``src < 0``, only send.

        The send is eager and buffered: it returns at once, and the tensor is copied
        (when it has data), so the sender may go on changing its buffer.
        """
        try:
            channel = outgoing[dst]
        except KeyError:
            channel = open_channel(rank, dst)
        path, arrivals, waiters, on_network = channel
        now = env._now
        if copies:
            tensor = tensor.copy()
        # The event the receiver waits on: its own, if it is already waiting, else a new one.
        if waiters:
            event = waiters.pop(0)
            event._ok, event._value = True, tensor
        else:  # Decided(env, tensor), without the call
            event = new(Decided)
            event.env, event.callbacks, event._ok, event._value = env, [], True, tensor
            arrivals.append(event)
        try:
            code = phase_codes[phase]
        except KeyError:
            code = phase_codes[phase] = world.trace.code(phases, phase)
        if on_network:
            transmit(rank, dst, tensor.size * bytes_per_element, code, step, now, path, event)
        elif path is None:  # same node: a local copy, there at once
            local_copy(now)
            heappush(queue_heap, (now, NORMAL, next(event_ids), event))
        else:  # a failed cable cut the route (engine/failures.py)
            raise path.error(world, rank, dst)
        if src < 0:
            return None
        # recv(src), inlined: a Python call costs ~5% of a whole message here.
        try:
            channel = incoming[src]
        except KeyError:
            channel = open_channel(src, rank)
        if channel[1]:
            return channel[1].pop(0)
        event = new(Event)  # Event(env), without the call
        event.env, event.callbacks, event._value = env, [], PENDING
        channel[2].append(event)
        return event

    def send(dst: int, tensor, phase: str = "", step: int = 0) -> None:
        """Put ``tensor`` on the network to rank ``dst`` and return at once (see ``sendrecv``)."""
        sendrecv(dst, tensor, -1, phase, step)

    def recv(src: int) -> Event:
        """The event that fires with the next message from rank ``src`` (one sender's messages stay in order)."""
        channel = incoming.get(src) or open_channel(src, rank)
        if channel[1]:
            return channel[1].pop(0)
        event = Event(env)
        channel[2].append(event)
        return event

    return send, recv, sendrecv, outgoing, incoming

