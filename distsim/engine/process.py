"""A rank's SimPy process, resumed with less overhead per event, that stops the run on a strategy bug.

``simpy.Process._resume`` runs once per message a rank receives. It builds a new
bound method (``self._resume``) every time it subscribes to the next event and
looks up ``self._generator`` and ``self.env`` on each pass. ``RankProcess`` keeps
one bound method and local names, and is otherwise SimPy's own event protocol
(a failed event is thrown into the generator, which may handle it; an event that
has already happened continues the generator at once). It is still a
``simpy.Process``: it can be yielded and waited on like any other.

Where it differs from SimPy, on purpose: a rank's program is strategy code, and
an exception escaping it is a bug in the strategy, not an event for another
process to catch. It ends the run at once as a :class:`~distsim.errors.StrategyBug`
naming the rank and the line (``engine/faults.py``); so does yielding something that
is not an event, and resuming on finished events without end (a livelock).
A DistsimError (out of memory, say) ends the run as it is.
"""

from __future__ import annotations

from simpy.events import Event, Process

from distsim.engine import faults
from distsim.errors import DistsimError, StrategyBug


class RankProcess(Process):
    """A rank's program, or one of its streams (``stream``: the code of the stream its ops are recorded on;
    ``code_of``: the strategy's generator when ``generator`` wraps it, for locating its bugs)."""

    def __init__(self, env, generator, rank: str | None = None, stream: int = 0, code_of=None):
        if not faults.is_generator(generator):
            raise StrategyBug(f"its program is {faults.describe(generator)}, not a generator "
                              "(a rank's program is written with yield)", rank)
        super().__init__(env, generator)
        self._wake = self._resume  # one bound method for every event this process waits on
        self.rank_name = rank
        self.stream = stream
        frame = getattr(code_of or generator, "gi_frame", None)
        self._package = frame.f_globals.get("__name__", "") if frame is not None else ""  # where its code lives

    def _resume(self, event: Event) -> None:
        env = self.env
        env._active_proc = self
        generator = self._generator
        spins = 0
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
            except StrategyBug as bug:  # the engine caught a misuse on this rank's behalf
                raise faults.fill(bug, self.rank_name, self._package)
            except DistsimError:
                raise
            except Exception as error:
                raise faults.located(error, self._package, self.rank_name) from error
            try:
                callbacks = event.callbacks
            except AttributeError:
                raise StrategyBug(f"yielded {faults.describe(event)}, not an event (yield ctx.recv(...), "
                                  "ctx.sendrecv(...), ctx.op(...) or ctx.compute(...))",
                                  self.rank_name, faults.suspended_at(generator)) from None
            if callbacks is not None:
                callbacks.append(self._wake)
                break
            # The event has been processed already: go on with its value at once.
            spins += 1
            if spins > faults.ZERO_TIME_LIMIT:
                raise StrategyBug(f"resumed more than {faults.ZERO_TIME_LIMIT:,} times in a row without simulated time "
                                  "passing (it yields an event that has already happened): a livelock",
                                  self.rank_name, faults.suspended_at(generator))
        self._target = event
        env._active_proc = None
