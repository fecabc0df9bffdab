"""``distsim sweep FILE``: run a scenario's sweep grid in parallel and write one tidy CSV."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from distsim.cli.progress import Progress

EXIT_OK, EXIT_CHECK_FAILED, EXIT_SIMULATION = 0, 1, 3


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="CSV",
              help="Write the results here (atomically); points already in it are not run again. "
                   "Default: print the CSV on standard output.")
@click.option("--force", is_flag=True, help="Run every point again, even those already in the CSV, and points (or "
              "grids) estimated too large to finish in memory or in minutes.")
@click.option("-j", "--jobs", type=click.IntRange(1), default=None, metavar="N",
              help="Local processes to run points on. Default: every core.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Run points on local processes, or on an existing Dask cluster (pip install 'distsim[dask]').")
@click.option("--scheduler", metavar="ADDRESS", help="The Dask scheduler, e.g. tcp://scheduler-host:8786 (with --executor dask).")
def sweep(scenario: Path, output: Path | None, force: bool, jobs: int | None, executor: str, scheduler: str | None) -> int:
    """Run every point of SCENARIO's sweep: block and write one CSV row per point.

    The grid is every combination of the listed values, once per strategy the
    scenario names. Rows come in grid order and are identical whichever executor
    or number of jobs ran them. Exit code 0 when every point's checks hold, 1 when
    one fails, 2 for bad input, 3 when a point's simulation cannot finish.
    """
    from distsim.sweep import run_sweep
    from distsim.sweep.executors import executor_for

    run_tasks = executor_for(executor, jobs, scheduler)
    with Progress("sweep") as progress:
        result = run_sweep(scenario, output, force=force, run_tasks=run_tasks, progress=progress)
    if output is None:
        click.echo(result.csv(), nl=False)
    summary = _summary(result, output)
    if output is not None or sys.stderr.isatty() or result.failed or result.errors:
        click.echo(summary, err=output is None)
    if result.errors:
        return EXIT_SIMULATION
    return EXIT_CHECK_FAILED if result.failed else EXIT_OK


def _summary(result, output: Path | None) -> str:
    rows = result.rows
    ok = sum(row["ok"] == "true" for row in rows)
    where = f" -> {output}" if output is not None else ""
    lines = [
        f"{len(rows)} points ({result.computed} run, {result.reused} already in the CSV): "
        f"{ok} ok, {len(result.failed)} failed, {len(result.errors)} could not finish{where}"
    ]
    labels = {point.key: point.label or point.kind for point in result.points}
    for row in (result.errors + result.failed)[:10]:
        why = row["error"] or f"checks failed (makespan {row['makespan_status'] or '-'}, counts_ok {row['counts_ok']})"
        lines.append(f"  {row['strategy']} [{labels.get(row['point_key'], '')}]: {why}")
    return "\n".join(lines)
