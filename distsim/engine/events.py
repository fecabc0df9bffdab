"""The one event type the engine creates itself, and what happens to an event when it is due."""

from __future__ import annotations

from simpy.events import Event


class Decided(Event):
    """An event whose outcome is already known and that fires at a time set by whoever schedules it."""

    def __init__(self, env, value):
        self.env = env
        self.callbacks = []
        self._ok = True
        self._value = value


def fire(event: Event) -> None:
    """Process a due event as ``Environment.step`` does: run its callbacks once, and
    re-raise a failure that no callback handled (defused)."""
    callbacks, event.callbacks = event.callbacks, None
    for callback in callbacks:
        callback(event)
    if not event._ok and not hasattr(event, "_defused"):
        exc = type(event._value)(*event._value.args)
        exc.__cause__ = event._value
        raise exc
