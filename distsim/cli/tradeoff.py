"""``distsim tradeoff``: peak memory against backward time for every rematerialization schedule."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from distsim import api
from distsim.cli.options import force_option
from distsim.errors import InputError
from distsim.fileio import check_output


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sweep", type=click.Choice(["k", "budget"]), default="k", show_default=True,
              help="k: every schedule at every value of its parameter (k, segments, slots); "
                   "budget: the fastest setting of each schedule within each memory budget.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.png|FILE.svg",
              help="Also draw the plot, with the Pareto frontier, to this file.")
@force_option
def tradeoff(scenario: Path, sweep: str, output: Path | None, force: bool) -> int:
    """Sweep every rematerialization schedule on SCENARIO's layer chain and hardware (its
    strategy list is not used) and print peak activation memory against backward time,
    marking the Pareto frontier. Every point is a simulated run.
    """
    from distsim.remat.tradeoff import sweep_budget, sweep_parameters
    from distsim.report.style import check_format
    from distsim.report.tradeoff import plot_tradeoff, tradeoff_table

    if output is not None:
        check_format(output)
        check_output(output)
    loaded, where = api.load(scenario, force)
    if loaded.model.layers is None and not loaded.model.per_layer:
        raise InputError(f"{scenario}: model: a trade-off needs a layer chain ('layers' and 'layer', or 'per_layer')")
    progress = (lambda text: click.echo(text, err=True)) if sys.stderr.isatty() else None
    points = (sweep_budget if sweep == "budget" else sweep_parameters)(loaded, progress)
    click.echo(tradeoff_table(points, sweep))
    if output is not None:
        plot_tradeoff(points, output, f"{scenario.name}: memory against time ({'budget' if sweep == 'budget' else 'parameter'} sweep)",
                      sweep, memory=loaded.cluster.gpu.memory)
        click.echo(f"wrote {output}")
    return 0
