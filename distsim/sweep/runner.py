"""Run a sweep: expand the grid, skip finished points, run the rest, write the CSV atomically.

The CSV is rewritten (atomically) every few seconds while points finish and once
more at the end, or when the sweep is interrupted; so an interrupted sweep loses
at most a few seconds of work, and running it again picks up where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from distsim import api
from distsim.fileio import check_output, exclusive, write_text
from distsim.scenario import Locations, Scenario
from distsim.sweep.executors import Task, executor_for
from distsim.sweep.grid import Point, expand
from distsim.sweep.table import KEY, header, read_results, render, swept_cell

CHECKPOINT_SECONDS = 5.0

RunTasks = Callable[[list[Task]], Iterator[tuple[int, dict]]]


@dataclass
class SweepResult:
    """The rows of a sweep in grid order (text cells, as written to the CSV)."""

    columns: list[str]
    rows: list[dict]
    points: list[Point]
    computed: int = 0  # points run now
    reused: int = 0  # points taken from the previous CSV
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        """Rows whose checks did not hold (a count, a size or an unexplained time)."""
        return [row for row in self.rows if row["ok"] != "true" and not row["error"]]

    @property
    def errors(self) -> list[dict]:
        """Rows whose simulation could not finish (deadlock, out of memory)."""
        return [row for row in self.rows if row["error"]]

    def csv(self) -> str:
        return render(self.columns, self.rows)


def run_sweep(
    source: str | Path | tuple[Scenario, Locations],
    output: str | Path | None = None,
    *,
    force: bool = False,
    run_tasks: RunTasks | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run every point of the scenario's sweep not already in ``output`` (with ``force``: all of them, and
    also what the size limits would refuse).

    ``run_tasks`` is an executor (see :func:`distsim.sweep.executors.executor_for`);
    by default, all local cores. ``progress(done, total)`` is called as points finish.
    """
    if output is None:
        return _run(source, None, force, run_tasks, progress)
    output = check_output(output)  # before any work: a FIFO, a device or a folder is never read or replaced
    with exclusive(output):  # one sweep at a time reads and rewrites this CSV
        return _run(source, output, force, run_tasks, progress)


def _run(source, output: Path | None, force: bool, run_tasks: RunTasks | None, progress) -> SweepResult:
    scenario, where = api.load(source, force) if isinstance(source, (str, Path)) else source
    points = expand(scenario, where, force)
    columns = header(list(scenario.sweep))
    previous = read_results(output) if output is not None and not force else {}
    results = {p.key: previous[p.key] for p in points if p.key in previous}
    todo = list({p.key: p for p in reversed(points) if p.key not in results}.values())[::-1]  # first of each key
    sweep = SweepResult(columns, [], points, reused=len(results))
    run_tasks = run_tasks or executor_for("local")
    last_write = time.monotonic()
    try:
        for done, (index, row) in enumerate(run_tasks([(p.text, p.name) for p in todo]), start=1):
            results[todo[index].key] = row
            sweep.computed = done
            if progress:
                progress(done, len(todo))
            if output is not None and time.monotonic() - last_write > CHECKPOINT_SECONDS:
                write_text(output, render(columns, _rows(points, results)))
                last_write = time.monotonic()
    finally:
        sweep.rows = _rows(points, results)
        if output is not None:
            write_text(output, sweep.csv())
    return sweep


def _rows(points: list[Point], results: dict[str, dict]) -> list[dict]:
    """Rows of the points that have results, in grid order; swept values as the user wrote them."""
    rows = []
    for point in points:
        if point.key in results:
            swept = {path: swept_cell(value) for path, value in point.overrides}
            rows.append({KEY: point.key, **swept, **results[point.key]})
    return rows
