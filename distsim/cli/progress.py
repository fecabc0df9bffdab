"""Progress for long commands: a bar on a terminal, nothing when output is piped or captured.

Why stderr decides: the results go to stdout (or a file); the bar is for a person
watching, so it appears only when stderr is a terminal, and never mixes with data.
"""

from __future__ import annotations

import sys

import click


class Progress:
    """``progress(done, total)`` callback that draws a click progress bar, lazily, on a terminal."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._bar = None
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            self._bar = click.progressbar(length=total, label=self.label, file=self.stream, show_pos=True, show_eta=True)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def step_message(index: int, total: int, what: str) -> None:
    """One line per step of a multi-step run (``running ring_allreduce (2/3) ...``), on a terminal only."""
    if sys.stderr.isatty():
        click.echo(f"running {what} ({index + 1}/{total}) ...", err=True)


class LiveStatus:
    """While a simulation runs, one status line on a terminal, refreshed twice a second:
    simulated time, messages and ops so far, wall time. Nothing when stderr is not a terminal.

    A daemon thread reads ``World.progress()``; it sleeps between reads, so the
    simulation (which holds the GIL) runs at full speed. Use as the API's ``monitor``.
    """

    def __init__(self, stream=None, interval: float = 0.5):
        import threading

        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.interval = interval
        self._world = None
        self._started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True) if self.enabled else None

    def __call__(self, world) -> None:
        import time

        self._world, self._started = world, time.perf_counter()

    def _loop(self) -> None:
        import time

        from distsim.fmt import fmt_count, fmt_time

        while not self._stop.wait(self.interval):
            world = self._world
            if world is None:
                continue
            now, messages, ops = world.progress()
            line = (f"  simulated {fmt_time(now)}: {fmt_count(messages)} messages, {fmt_count(ops)} ops "
                    f"({time.perf_counter() - self._started:.1f} s)")
            self.stream.write("\r" + line + "\033[K")
            self.stream.flush()

    def __enter__(self) -> "LiveStatus":
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.stream.write("\r\033[K")
            self.stream.flush()
