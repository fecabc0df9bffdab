"""One exception hierarchy for the whole package.

Library code raises; only the CLI turns an exception into a message and an exit
code (``DistsimError.exit_code``). Every message is written to be read by a user:
it says what is wrong and where, without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class DistsimError(Exception):
    """Base of every error distsim reports to a user."""

    exit_code = 1


class InputError(DistsimError):
    """Bad input: a scenario, an option or a file the user gave. Exit code 2."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, located as precisely as we know."""

    file: str
    path: tuple  # field path, e.g. ("cluster", "network", "bandwidth")
    message: str
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based

    @property
    def dotted_path(self) -> str:
        return ".".join(str(p) for p in self.path) or "<top level>"

    def one_line(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.dotted_path}: {self.message}"


class ScenarioError(InputError):
    """A scenario that cannot be used; carries every problem found, located."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(p.one_line() for p in self.problems))


class SimulationError(DistsimError):
    """The simulation could not finish: it says what happened and where. Exit 3."""

    exit_code = 3


class DeadlockError(SimulationError):
    """Processes wait on each other (or on messages never sent); nothing can run."""


class OutOfMemoryError(SimulationError):
    """An allocation would exceed a device's capacity."""


class VerificationError(SimulationError):
    """A payload-carrying run ended with a wrong result on some worker."""
