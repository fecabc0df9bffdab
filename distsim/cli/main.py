"""The ``distsim`` command: thin click commands that parse, call the API, and render.

Exit codes: 0 every check holds; 1 a check failed (a count, a size, an unexplained
time); 2 bad input (scenario, option, file); 3 the simulation could not finish
(deadlock, out of memory, wrong payload result). Errors are one line per
problem on stderr, never a traceback.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from distsim import __version__, api, strict_json
from distsim.cli import authoring
from distsim.cli import golden as golden_cli
from distsim.cli.collectives import collectives
from distsim.cli.options import force_option
from distsim.cli.plot import plot
from distsim.cli.progress import LiveStatus
from distsim.cli.report import report
from distsim.cli.sweep import sweep
from distsim.cli.tradeoff import tradeoff
from distsim.errors import DistsimError, InputError, SimulationError
from distsim.fileio import atomic_directory, check_output
from distsim.report.summary import outcome_dict, run_text, summary_table

EXIT_OK, EXIT_CHECK_FAILED = 0, 1  # bad input (2) and simulation failures (3) come from DistsimError.exit_code
EXIT_SIMULATION = 3  # ... or from strategies that did not fit in memory, after every strategy was reported


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="distsim")
def cli() -> None:
    """Simulate one training step of distributed deep learning: how many messages, how many
    bytes, how long, and how much memory, under a given strategy and hardware.

    Start with a bundled scenario:

        distsim run scenarios/exam_distributed.yaml
    """


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (or {runs: [...]} for several strategies); "
              "floats to 12 significant digits, never NaN or Infinity.")
@click.option("--trace-out", type=click.Path(path_type=Path), metavar="DIR",
              help="Write messages.csv, ops.csv, links.csv and trace.json (Perfetto / chrome://tracing) to DIR "
                   "(replacing what an earlier run wrote there, whole).")
@click.option("--expect", type=click.Path(dir_okay=False, path_type=Path), metavar="GOLDEN",
              help="Compare counts, sizes and times with this golden JSON file; print the differences and exit 1 if any.")
@click.option("--update-golden", is_flag=True, help="Write the --expect file from this run instead of comparing.")
@golden_cli.rel_tol_option
@force_option
def run(scenario: Path, as_json: bool, trace_out: Path | None, expect: Path | None, update_golden: bool,
        rel_tol: float, force: bool) -> int:
    """Run SCENARIO (a YAML file) and reconcile every trace with the closed forms.

    Prints a summary and the expected-vs-simulated table for each strategy the
    scenario names. Exit code 0 when every check holds, 1 when one fails, 2 for
    bad input, 3 when the simulation cannot finish.
    """
    golden = golden_cli.expectation(expect, update_golden)
    if trace_out is not None:
        check_output(trace_out, folder=True)
    with LiveStatus() as status:
        outcomes = api.run(scenario, on_progress=_progress, monitor=status, keep_going=True, force=force)
    if trace_out is not None:
        _write_traces(outcomes, trace_out)
    if as_json:
        runs = [outcome_dict(o) for o in outcomes]
        body = runs[0] if len(runs) == 1 else {"scenario": str(scenario), "runs": runs, "ok": all(r["ok"] for r in runs)}
        click.echo(strict_json.dumps(body))
    else:
        click.echo(outcomes[0].run_kind.describe(outcomes[0].result.scenario, scenario))
        for outcome in outcomes:
            click.echo("\n" + run_text(outcome))
        if len(outcomes) > 1:
            click.echo("\nsummary (from the simulated traces)\n" + summary_table(outcomes))
    if any(o.failure is not None for o in outcomes):  # all were reported; those out of memory end it as exit 3
        for outcome in outcomes:
            if outcome.failure is not None:
                click.echo(f"distsim: error: {outcome.spec.kind} does not fit: {outcome.failure}", err=True)
        return EXIT_SIMULATION
    matches = expect is None or golden_cli.check_expectation(outcomes, scenario, expect, golden, rel_tol)
    return EXIT_OK if matches and all(o.ok for o in outcomes) else EXIT_CHECK_FAILED


@cli.command()
def strategies() -> int:
    """List every strategy distsim knows (built-ins and installed plugins)."""
    from distsim.strategies import describe

    rows = describe()
    width = max(len(name) for name, _, _ in rows)
    family_width = max(len(family) for _, family, _ in rows)
    for name, family, summary in rows:
        click.echo(f"{name:<{width}}  {family:<{family_width}}  {summary}")
    return EXIT_OK


@cli.command()
@click.option("--suite", type=click.Choice(["ring", "flow", "remat", "sweep", "collectives", "step"]), default="ring", show_default=True,
              help="ring: ring all-reduce vs a bare SimPy loop (add --sizes 2048,4096 for the large runs); flow: the same "
                   "ring as flows vs the default cut-through model; remat: every rematerialization schedule at L = 1000; "
                   "sweep: a 100-point sweep on 1 and 2 processes and on Dask; collectives: a hierarchical "
                   "all-reduce on nodes of 8 GPUs (--sizes: GPUs) vs a bare loop; step: one training step of "
                   "scenarios/gpt7b_64gpu.yaml at 64 GPUs and scaled to the other --sizes, vs a bare loop.")
@click.option("--sizes", default="64,256,1024", show_default=True, help="Comma-separated worker counts (ring, flow, collectives, step suites).")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1), help="Repetitions; medians are reported.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def bench(suite: str, sizes: str, repeat: int, as_json: bool) -> int:
    """Measure distsim beside a baseline measured in the same run: wall time, events (messages
    or ops) per second and peak memory.

    ring: a ring all-reduce (p = 1e9, full trace) against a bare SimPy loop with one
    timeout per message. flow: that ring as max-min flows against the default
    cut-through model. remat: one backward pass of L = 1000 layers under every
    schedule, and the optimal planner alone. sweep: a 100-point sweep on 1 and 2
    local processes and on Dask. collectives: a hierarchical all-reduce on nodes of 8
    GPUs. step: one training step (scenarios/gpt7b_64gpu.yaml, scaled to --sizes).
    Each measurement runs in its own process and
    compared runs alternate; the machine is shared and noisy, so compare the ratios.
    """
    from distsim.bench import SUITES

    counts = _worker_counts(sizes)
    measure, render = SUITES[suite]
    progress = (lambda text: click.echo(text, err=True)) if sys.stderr.isatty() else None
    rows = measure(sizes=counts, repeat=repeat, progress=progress)
    click.echo(strict_json.dumps(rows) if as_json else render(rows))
    return EXIT_OK


def _worker_counts(sizes: str) -> tuple[int, ...]:
    """``--sizes``: whole numbers of workers, at least 2 each (a ring needs two); InputError (one line) otherwise."""
    try:
        counts = tuple(int(n) for n in sizes.split(","))
    except ValueError:
        raise InputError(f"--sizes: expected whole numbers separated by commas, such as 64,256,1024; got {sizes!r}") from None
    if min(counts) < 2:
        raise InputError(f"--sizes: every size is a number of workers, at least 2; got {min(counts)}")
    return counts


def _progress(index: int, total: int, kind: str) -> None:
    if sys.stderr.isatty():
        click.echo(f"running {kind} ({index + 1}/{total}) ...", err=True)


def _write_traces(outcomes, directory: Path) -> None:
    import numpy as np

    from distsim.report.occupancy import link_spans
    from distsim.trace.export import write_chrome_trace, write_csvs

    with atomic_directory(directory) as tmp:
        for outcome in outcomes:
            target = tmp / outcome.result.kind if len(outcomes) > 1 else tmp
            write_csvs(outcome.trace, target)
            busy = link_spans(outcome.trace, np.arange(len(outcome.trace.links)))  # as the figures draw links
            write_chrome_trace(outcome.trace, target / "trace.json", busy)


for command in (sweep, plot, report, tradeoff, collectives, authoring.validate, authoring.schema, golden_cli.verify):
    cli.add_command(command)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command, turn distsim errors into one-line messages and exit codes."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    # `kill` (SIGTERM) ends a run like Ctrl-C: temporary outputs are removed on the way out.
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        code = _exit_code(argv)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    sys.exit(code)


def _exit_code(argv: list[str] | None) -> int:
    try:
        code = cli.main(args=argv, prog_name="distsim", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("distsim: interrupted", err=True)
        code = 130
    except DistsimError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            click.echo(f"distsim: error: {line}", err=True)
        code = exc.exit_code
    except MemoryError:  # the estimate (distsim.estimate) let it through, or --force did
        click.echo("distsim: error: this machine ran out of memory; the simulation could not finish", err=True)
        code = SimulationError.exit_code
    return code if isinstance(code, int) else EXIT_OK
