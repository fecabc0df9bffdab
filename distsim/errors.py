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


class StrategyBug(SimulationError):
    """A strategy's own code went wrong: an exception in a rank, a misuse of its context (a send to a
    rank that does not exist, an op of NaN seconds, a release of memory it does not hold, a livelock),
    or a hook that returned nonsense. Not bad input and not the model: a bug in the strategy, often a
    plugin's. The run cannot finish (exit 3).

    Raised where it happens with what happened; the engine adds the rank and the file:line in the
    strategy's code (``engine/faults.py``), and the API adds which strategy or plugin it was.
    """

    def __init__(self, what: str, rank: str | None = None, where: str | None = None, during: str | None = None,
                 strategy: str | None = None):
        super().__init__(what)
        self.what, self.rank, self.where, self.during, self.strategy = what, rank, where, during, strategy

    def __str__(self) -> str:
        during = f" in {self.during}" if self.during else ""
        on = f" on rank {self.rank}" if self.rank else ""
        at = f" at {self.where}" if self.where else ""
        return f"{self.strategy or 'the strategy'} failed{during}{on}{at}: {self.what}"
