"""The one event type the engine creates itself."""

from __future__ import annotations

from simpy.events import Event


class Decided(Event):
    """An event whose outcome is already known and that fires at a time set by whoever schedules it."""

    def __init__(self, env, value):
        self.env = env
        self.callbacks = []
        self._ok = True
        self._value = value
