"""What every network model does, and the little they share.

The messaging layer (``engine/messaging.py``) keeps the mailboxes: who waits for
whom, in which order messages from one sender are received. A network model only
decides **when a message's bytes leave and arrive**. Its whole interface:

* ``path(route)``: whatever the model wants to know about a route, computed once per
  pair of ranks and kept in their channel;
* ``transmit(src, dst, nbytes, phase, step, now, path, event)``: carry a message sent
  at ``now``; once its arrival time is known, record its row and deliver ``event``
  (the very event its receiver waits on) at that time, through :meth:`Network.deliver`.

A model may take its decision at once (the common case, which costs no event) or
later, on events of its own (a hop that must wait its turn, a rate that changes).
"""

from __future__ import annotations

from simpy.events import Event

from distsim.engine.events import Decided
from distsim.hardware.topology import Route


class Network:
    """Base of the network models: the world they run in, and the way out (``deliver``)."""

    name = "network"

    def __init__(self, world):
        self.world = world
        self.env = world.env
        self.topology = world.topology
        self.calendar = world.calendar
        self._extend, self._pack = world.trace.messages.sink()

    def path(self, route: Route):
        raise NotImplementedError

    def transmit(self, src: int, dst: int, nbytes: int, code: int, step: int, now: float, path, event: Event) -> None:
        raise NotImplementedError

    def deliver(self, src, dst, nbytes, code, step, t_send, t_start, t_arrive, blocked_by, event) -> None:
        """Record the message's row and hand ``event`` to the receiver at ``t_arrive``."""
        self._extend(self._pack(src, dst, nbytes, code, step, t_send, t_start, t_arrive, blocked_by))
        self.calendar.at(t_arrive, event)

    def later(self, time: float, callback, state) -> None:
        """Call ``callback(state)`` at simulated ``time`` (a model's own event)."""
        event = Decided(self.env, state)
        event.callbacks.append(callback)
        self.calendar.at(time, event)
