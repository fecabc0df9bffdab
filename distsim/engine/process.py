"""A rank's SimPy process, resumed with less overhead per event.

``simpy.Process._resume`` runs once per message a rank receives. It builds a new
bound method (``self._resume``) every time it subscribes to the next event and
looks up ``self._generator`` and ``self.env`` on each pass. ``RankProcess`` keeps
one bound method and local names, and is otherwise SimPy's own code: the same
event protocol, the same handling of failed events, generator exceptions and
termination (``tests/test_engine.py`` pins it). It is still a ``simpy.Process``:
it can be yielded, interrupted and waited on like any other.
"""

from __future__ import annotations

from simpy.events import Event, Process


class RankProcess(Process):
    def __init__(self, env, generator):
        super().__init__(env, generator)
        self._wake = self._resume  # one bound method for every event this process waits on

    def _resume(self, event: Event) -> None:
        env = self.env
        env._active_proc = self
        generator = self._generator
        while True:
            try:
                if event._ok:
                    event = generator.send(event._value)
                else:
                    # As SimPy: the process handles the failed event or fails itself,
                    # with an exclusive copy of the exception.
                    event._defused = True
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    event = generator.throw(exc)
            except StopIteration as stop:
                event = None
                self._ok = True
                self._value = stop.args[0] if stop.args else None
                env.schedule(self)
                break
            except BaseException as error:
                event = None
                self._ok = False
                error.__traceback__ = error.__traceback__.tb_next
                self._value = error
                env.schedule(self)
                break
            callbacks = getattr(event, "callbacks", False)
            if callbacks is False:
                raise RuntimeError(f'Invalid yield value "{event}" in the process of a rank')
            if callbacks is not None:
                callbacks.append(self._wake)
                break
            # The event has been processed already: go on with its value at once.
        self._target = event
        env._active_proc = None
