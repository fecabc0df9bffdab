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
