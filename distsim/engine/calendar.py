"""Events due at the same instant share one entry on SimPy's event queue.

In a collective, many messages arrive at exactly the same simulated time (every
rank of a ring step, for instance). Each would cost a push and a pop on SimPy's
heap, with tie-breaking comparisons all the way down, since their times are
equal. The calendar keeps one list of events per instant and puts a single
*tick* on the heap for it; when the tick fires, its events are processed in the
order they were scheduled, exactly as ``Environment.step`` would process each.

Order: events of one instant run in the order they were added to the calendar.
Relative to other events of the same instant that are not in the calendar
(timeouts, process terminations), the whole list runs where its first event
would have: a valid order for simultaneous events, and a deterministic one.
"""

from __future__ import annotations

from heapq import heappush

from simpy.events import NORMAL, Event

from distsim.engine.events import Decided, fire


class Calendar:
    def __init__(self, env, between_instants=None):
        self.env = env
        self.due: dict[float, list[Event]] = {}  # instant -> events, in the order scheduled
        # Called before each instant's events (cheap housekeeping, e.g. moving trace rows into columns).
        self.between_instants = between_instants or (lambda: None)

    def at(self, time: float, event: Event) -> None:
        """Process ``event`` (already decided) at absolute ``time``."""
        bucket = self.due.get(time)
        if bucket is not None:
            bucket.append(event)
            return
        self.due[time] = [event]
        tick = Decided(self.env, time)
        tick.callbacks.append(self._fire)
        heappush(self.env._queue, (time, NORMAL, next(self.env._eid), tick))

    def _fire(self, tick: Event) -> None:
        self.between_instants()
        # Popped first: an event scheduled for this very instant while these run gets a tick of its own.
        for event in self.due.pop(tick._value):
            # fire(event), inlined for the events that cannot fail (every one the engine schedules here).
            callbacks, event.callbacks = event.callbacks, None
            if event._ok:
                for callback in callbacks:
                    callback(event)
            else:
                event.callbacks = callbacks
                fire(event)
