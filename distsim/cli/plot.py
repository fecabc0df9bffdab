"""``distsim plot RESULT --kind KIND -o FILE``: one figure, PNG or SVG, from a run, a trace or a sweep."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from distsim.cli.options import force_option
from distsim.cli.progress import Progress
from distsim.cli.results import classify, read_result
from distsim.errors import InputError
from distsim.fileio import check_output

ACCEPTS = {
    "timeline": ("scenario", "traces"),
    "links": ("scenario", "traces"),
    "scaling": ("sweep", "scenario"),
    "tradeoff": ("scenario",),
}
WHAT = {"scenario": "a scenario file", "traces": "a --trace-out directory", "sweep": "a sweep CSV"}


@click.command()
@click.argument("result", type=click.Path(path_type=Path))
@click.option("--kind", required=True, type=click.Choice(list(ACCEPTS)),
              help="timeline: Gantt chart of ranks and links; links: utilization and bytes per link; "
                   "scaling: counts and makespan against n from a sweep; tradeoff: rematerialization memory vs time.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The image to write (atomically): FILE.png or FILE.svg.")
@force_option
def plot(result: Path, kind: str, output: Path, force: bool) -> int:
    """Draw one figure of RESULT: a scenario file (it is run), a --trace-out directory, or a
    sweep CSV (a scenario with a sweep: block is swept first, for --kind scaling).

    \b
    timeline, links:  a scenario file or a --trace-out directory
    scaling:          a sweep CSV, or a scenario with a sweep: block
    tradeoff:         a rematerialization scenario
    """
    from distsim.report import plots

    plots.check_format(output)
    check_output(output)
    source = classify(result)
    if source not in ACCEPTS[kind]:
        wanted = " or ".join(WHAT[s] for s in ACCEPTS[kind])
        raise InputError(f"{result}: --kind {kind} needs {wanted}, not {WHAT[source]}")
    if kind == "tradeoff":
        tradeoff_plot(result, output, force)
        click.echo(f"wrote {output}")
        return 0
    if kind == "scaling":
        figure = plots.scaling_figure(_sweep_rows(result, source, force), title=result.stem)
    else:
        runs = read_result(result, force).traces
        figure = (plots.timeline_figure if kind == "timeline" else plots.links_figure)(runs)
    plots.save(figure, output)
    click.echo(f"wrote {output}")
    return 0


def _sweep_rows(path: Path, source: str, force: bool) -> list[dict]:
    if source == "sweep":
        return read_result(path).rows
    from distsim.sweep import run_sweep

    with Progress("sweep") as progress:
        return run_sweep(path, force=force, progress=progress).rows


def tradeoff_plot(scenario: Path, output: Path, force: bool = False) -> Path:
    """The rematerialization feature's trade-off plot (peak memory against backward time, every
    schedule at every setting, each a simulated run) of SCENARIO's layer chain, written to ``output``."""
    from distsim import api
    from distsim.report import plots

    module = plots.tradeoff_module()
    from distsim.remat.tradeoff import sweep_parameters

    loaded, _ = api.load(scenario, force)
    if loaded.model.layers is None and not getattr(loaded.model, "per_layer", None):
        raise InputError(f"{scenario}: --kind tradeoff needs a layer chain (model: layers and layer, or per_layer)")
    progress = (lambda text: click.echo(text, err=True)) if sys.stderr.isatty() else None
    points = sweep_parameters(loaded, progress)
    return module.plot_tradeoff(points, output, f"{scenario.name}: memory against time", memory=loaded.cluster.gpu.memory)
