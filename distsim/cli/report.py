"""``distsim report RUN_OR_SWEEP -o report.html``: one self-contained HTML file to open in a browser."""

from __future__ import annotations

from pathlib import Path

import click

from distsim import api
from distsim.cli.options import force_option
from distsim.cli.progress import Progress, step_message
from distsim.cli.results import classify
from distsim.errors import InputError
from distsim.fileio import check_output, write_text

EXIT_OK, EXIT_CHECK_FAILED, EXIT_SIMULATION = 0, 1, 3


@click.command()
@click.argument("source", metavar="RUN_OR_SWEEP", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The HTML file to write (atomically); images are embedded, nothing is fetched when it opens.")
@force_option
def report(source: Path, output: Path, force: bool) -> int:
    """Write an HTML report of RUN_OR_SWEEP: a scenario file (it is run; a scenario with a
    sweep: block is swept) or a sweep CSV written by 'distsim sweep'.

    A run's report has the scenario, the expected-vs-simulated table with the formula
    and source of each expected value, why the run took the time it did (the
    bottleneck), the busiest links, a timeline and the link plots. A sweep's report
    has the scaling figure and every point's verdict. Exit code 0 when every check
    holds, 1 when one fails (the report is still written), 2 for bad input, 3 when a
    simulation cannot finish.
    """
    from distsim.report import html

    check_output(output)
    kind = classify(source)
    if kind == "traces":
        raise InputError(f"{source}: a --trace-out directory has no expected values to report; give the scenario "
                         "file instead (or use 'distsim plot' for its figures)")
    if kind == "sweep":
        from distsim.report.plots import read_sweep_csv

        rows = read_sweep_csv(source)
        page, code = html.sweep_report(source.name, rows, _swept_columns(rows)), _sweep_code(rows)
    else:
        prepared = api.prepare(source, force=force)
        scenario, where = prepared.scenario, prepared.where
        text = source.read_text(encoding="utf-8", errors="replace")
        if scenario.sweep:
            from distsim.sweep import run_sweep

            with Progress("sweep") as progress:
                rows = run_sweep((scenario, where), force=force, progress=progress).rows
            page, code = html.sweep_report(source.name, rows, list(scenario.sweep), text), _sweep_code(rows)
        else:
            outcomes = api.run(prepared, on_progress=step_message, keep_going=True)
            page = html.run_report(source.name, text, outcomes, _tradeoff(source, outcomes))
            code = _run_code(outcomes)
    write_text(output, page)
    click.echo(f"wrote {output}")
    return code


def _swept_columns(rows: list[dict]) -> list[str]:
    columns = list(rows[0]) if rows else []
    return columns[1: columns.index("strategy")] if "strategy" in columns else []


def _run_code(outcomes) -> int:
    """3 when a strategy did not fit in memory (the report lists it as such), else 0 or 1 by the checks."""
    if any(o.failure is not None for o in outcomes):
        return EXIT_SIMULATION
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_CHECK_FAILED


def _sweep_code(rows: list[dict]) -> int:
    if any(r["error"] for r in rows):
        return EXIT_SIMULATION
    return EXIT_OK if all(r["ok"] == "true" for r in rows) else EXIT_CHECK_FAILED


def _tradeoff(source: Path, outcomes) -> tuple:
    """The rematerialization trade-off figure, for a run of rematerialization schedules (when that feature exists)."""
    from distsim.report import plots
    from distsim.report.html import Figure

    if not any(o.run_kind.tradeoff for o in outcomes) or not plots.has_tradeoff():
        return ()
    import tempfile

    from distsim.cli.plot import tradeoff_plot

    with tempfile.TemporaryDirectory(prefix="distsim-report-") as tmp:
        png = tradeoff_plot(source, Path(tmp) / "tradeoff.png").read_bytes()
    caption = ("Peak activation memory against backward time for every rematerialization schedule at every setting "
               "(each a simulated run); the black staircase is the Pareto frontier.")
    return (Figure("Memory vs time", caption, png),)
