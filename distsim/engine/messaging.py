"""Point-to-point messages: the hot path of every simulation.

``send`` reserves the route's links and records the message; ``recv`` returns the
event that fires when the next message from a given sender arrives. Both are
closures over the world's state rather than methods: a closure variable is read
several times faster than ``self.attribute``, and these two functions run once per
message (two million times in a 1,024-worker ring all-reduce). Nothing else in
distsim is written this way.

The model (docs/architecture.md):

* A message of b bytes holds every link of its route together (cut-through) for
  b / bandwidth, starting when the last of them is free; it arrives ``latency``
  (propagation, which occupies no link) after the transfer ends. Links serve
  messages in the order they were sent: FIFO.
* Everything about a message's timing is known when it is sent, so sending costs
  no event. The arrival is the one event per message, scheduled at its absolute
  arrival time (so the trace's ``t_arrive`` is bit-exact), and it is the very event
  the receiver waits on.
"""

from __future__ import annotations

from collections import deque
from heapq import heappush

from simpy.events import NORMAL, Event

from distsim.engine.events import Decided
from distsim.engine.faults import check_ranks


class Channel(tuple):
    """Messages from one rank to another, as one tuple that ``send`` unpacks in a single step:

    ``(first, last, middle, bandwidth, latency, arrivals, waiters, on_network)``

    The route's links are split into its first and last link (the same link for a
    one-hop route) and the tuple of links in between (empty on a switch or a direct
    cable), so that the common one- and two-hop routes need no loop. ``arrivals``
    holds arrival events the receiver has not asked for yet (the sender is ahead);
    ``waiters`` holds the receiver's events waiting for messages not yet sent (the
    receiver is ahead); at most one of the two is non-empty. They are plain lists:
    they rarely hold more than one event, and an all-to-all on 1,024 workers has a
    million channels. ``on_network`` is False between ranks on the same node: such
    a send is a local copy, takes no time and is not a message.
    """

    __slots__ = ()

    def __new__(cls, links: tuple, bandwidth: float, latency: float, scratch_link: int):
        if not links:
            return super().__new__(cls, (scratch_link, scratch_link, (), float("inf"), 0.0, [], [], False))
        return super().__new__(cls, (links[0], links[-1], links[1:-1], bandwidth, latency, [], [], True))

    @property
    def links(self) -> tuple:
        if not self[7]:
            return ()
        return (self[0],) + self[2] + ((self[1],) if self[1] != self[0] else ())

    @property
    def arrivals(self) -> list:
        return self[5]

    @property
    def waiters(self) -> list:
        return self[6]


def schedule_at(env, time: float, event: Event) -> None:
    """Put ``event`` on SimPy's queue at absolute ``time`` (``env.schedule`` takes a delay,
    and now + (time - now) can differ from ``time`` in the last bit)."""
    heappush(env._queue, (time, NORMAL, next(env._eid), event))


class Ports:
    """The messages waiting at each link to be transmitted, in the order they were sent.

    A message only claims links when it leaves its sender's port (the first link
    of its route): if that link is busy, or earlier messages wait there, it joins
    the queue, and a *wake* event at the moment the link frees starts the head of
    the queue. Claiming later links only at that moment keeps a message that will
    start in the future from blocking messages of other senders that can use
    those links now. The common case, a free port, costs no event at all.
    """

    def __init__(self, world):
        self.world = world
        self.env = world.env
        self.queues: list[deque | None] = [None] * len(world.busy_until)  # by link id

    def enqueue(self, link: int, item: tuple) -> None:
        queue = self.queues[link]
        if queue is None:
            queue = self.queues[link] = deque()
        queue.append(item)
        if len(queue) == 1:
            self._wake_at(link, self.world.busy_until[link])

    def _wake_at(self, link: int, time: float) -> None:
        wake = Decided(self.env, link)
        wake.callbacks.append(self._start_head)
        schedule_at(self.env, time, wake)

    def _start_head(self, wake: Event) -> None:
        link = wake._value
        queue = self.queues[link]
        transmit(self.world, self.env._now, *queue.popleft())
        if queue:
            self._wake_at(link, self.world.busy_until[link])


def transmit(world, now: float, src: int, dst: int, nbytes: int, code: int, step: int, t_send: float, channel: Channel, event: Event) -> None:
    """Start a message at ``now`` or as soon as every link of its route is free; record it; schedule its arrival."""
    first, last, middle, bandwidth, latency = channel[:5]
    busy = world.busy_until
    start, blocked_by = now, (first if now > t_send else -1)
    for link in (first, last) + middle:
        if busy[link] > start:
            start, blocked_by = busy[link], link
    end = start + nbytes / bandwidth
    for link in (first, last) + middle:
        busy[link] = end
    arrive = end + latency
    world.trace.messages.append(src, dst, nbytes, code, step, t_send, start, arrive, blocked_by)
    world.calendar.at(arrive, event)


def endpoint(world, rank: int):
    """The ``(send, recv)`` pair of ``rank``: see the module docstring for the model."""
    env = world.env
    queue_heap, event_ids = env._queue, env._eid  # SimPy's own heap and counter, as env.schedule uses them
    busy = world.busy_until
    scratch_link = len(busy) - 1  # a slot no route uses (the "links" of a local copy)
    ports = world.ports
    port_queues = ports.queues
    calendar = world.calendar
    due = calendar.due
    contexts = world.contexts
    bytes_per_element = world.bytes_per_element
    copies = world.copies_payloads
    extend, pack = world.trace.messages.sink()
    phases = world.trace.phases
    phase_codes: dict[str, int] = {}
    outgoing: dict[int, Channel] = {}
    incoming: dict[int, Channel] = {}

    def open_channel(src: int, dst: int) -> Channel:
        """The channel src -> dst, created on first use by either end."""
        check_ranks(src, dst, len(contexts))
        if world.placement[src] == world.placement[dst]:
            channel = Channel((), 0.0, 0.0, scratch_link)
        else:
            channel = Channel(*world.route(src, dst), scratch_link)
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
        first, last, middle, bandwidth, latency, arrivals, waiters, on_network = channel
        now = env._now
        if copies:
            tensor = tensor.copy()
        # The event the receiver waits on: its own, if it is already waiting, else a new one.
        if waiters:
            event = waiters.pop(0)
            event._ok, event._value = True, tensor
        else:
            event = Decided(env, tensor)
            arrivals.append(event)
        try:
            code = phase_codes[phase]
        except KeyError:
            code = phase_codes[phase] = world.trace.code(phases, phase)
        nbytes = tensor.size * bytes_per_element
        if not on_network:  # same node: a local copy, there at once
            heappush(queue_heap, (now, NORMAL, next(event_ids), event))
        elif busy[first] > now or port_queues[first]:  # the port is busy: wait in line
            ports.enqueue(first, (rank, dst, nbytes, code, step, now, channel, event))
        else:
            # transmit(world, now, ...) inlined: the common case, and the hot path of every run.
            start, blocked_by = now, -1
            if busy[last] > start:
                start, blocked_by = busy[last], last
            if middle:  # routes of three or more links
                for link in middle:
                    if busy[link] > start:
                        start, blocked_by = busy[link], link
            end = start + nbytes / bandwidth
            busy[first] = busy[last] = end
            if middle:
                for link in middle:
                    busy[link] = end
            arrive = end + latency
            extend(pack(rank, dst, nbytes, code, step, now, start, arrive, blocked_by))
            # calendar.at(arrive, event), inlined for the common case: the instant already has a tick.
            bucket = due.get(arrive)
            if bucket is None:
                calendar.at(arrive, event)
            else:
                bucket.append(event)
        if src < 0:
            return None
        # recv(src), inlined: a Python call costs ~5% of a whole message here.
        try:
            channel = incoming[src]
        except KeyError:
            channel = open_channel(src, rank)
        if channel[5]:
            return channel[5].pop(0)
        event = Event(env)
        channel[6].append(event)
        return event

    def send(dst: int, tensor, phase: str = "", step: int = 0) -> None:
        """Put ``tensor`` on the network to rank ``dst`` and return at once (see ``sendrecv``)."""
        sendrecv(dst, tensor, -1, phase, step)

    def recv(src: int) -> Event:
        """The event that fires with the next message from rank ``src`` (one sender's messages stay in order)."""
        channel = incoming.get(src) or open_channel(src, rank)
        if channel[5]:
            return channel[5].pop(0)
        event = Event(env)
        channel[6].append(event)
        return event

    return send, recv, sendrecv, outgoing, incoming

