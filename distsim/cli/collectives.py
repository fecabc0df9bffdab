"""``distsim collectives``: every algorithm of a collective on a scenario's cluster, time against size."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from distsim import api
from distsim.collectives import OPS
from distsim.errors import InputError
from distsim.scenario.units import parse_quantity


def _bytes(_ctx, param, value: str) -> float:
    try:
        return parse_quantity(value, "bytes")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--op", type=click.Choice(OPS), default=None,
              help="The collective. Default: the op of the scenario's first collective strategy, else all_reduce.")
@click.option("--from", "low", default="1 kB", show_default=True, callback=_bytes, metavar="SIZE",
              help="Smallest buffer (NCCL's count x element size: an all-gather's whole result).")
@click.option("--to", "high", default="1 GB", show_default=True, callback=_bytes, metavar="SIZE", help="Largest buffer.")
@click.option("--points", default=25, show_default=True, type=click.IntRange(2, 400), help="Sizes, log-spaced.")
@click.option("--simulate", is_flag=True,
              help="Also run every algorithm at every size on the simulated cluster (phantom tensors) and show "
                   "the measured makespans beside the predictions.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.png|FILE.svg",
              help="Also draw the log-log plot, crossovers marked, to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print the curves as JSON.")
def collectives(scenario: Path, op: str | None, low: float, high: float, points: int, simulate: bool,
                output: Path | None, as_json: bool) -> int:
    """Print (and plot) the time of every algorithm of a collective against the buffer size, on
    SCENARIO's cluster, with the crossovers: the sizes where the cheapest algorithm changes.

    Times are the cost model behind `algorithm: auto` (docs/collectives.md): per algorithm a
    latency term (alpha per dependent step) plus bytes on the busiest link over the bandwidth,
    with the efficiency and base latency the scenario's collective strategy sets. The
    cheapest at each size (marked *) is what auto picks. Algorithms that cannot run on this
    many workers (a power of two needed, say) are left out. The scenario's strategy list is
    only read for the op and those settings.
    """
    from distsim.curves import collective_curves, size_grid
    from distsim.report.collectives import curves_text, plot_curves
    from distsim.report.style import check_format

    if output is not None:
        check_format(output)
    if not 0 < low < high:
        raise InputError(f"--from ({low:g} bytes) must be smaller than --to ({high:g} bytes)")
    loaded, _ = api.load(scenario)
    if loaded.cluster.network is None:
        raise InputError(f"{scenario}: cluster: collectives need a 'network'")
    op = op or next((s.params.get("op", "all_reduce") for s in loaded.strategy if s.kind == "collective"), "all_reduce")
    progress = (lambda text: click.echo(text, err=True)) if sys.stderr.isatty() else None
    curves = collective_curves(loaded, op, size_grid(low, high, points, loaded, op), simulate, progress)
    net = loaded.cluster.network
    title = (f"{op} on {loaded.cluster.workers} workers ({net.topology}, {net.bandwidth * 8 / 1e9:.4g} Gbit/s, "
             f"{net.latency * 1e6:.4g} us)")
    if as_json:
        click.echo(json.dumps({"op": op, "workers": curves.workers, "sizes_bytes": curves.sizes,
                               "predicted_s": curves.predicted, "simulated_s": curves.simulated,
                               "cheapest": curves.cheapest,
                               "crossovers": [{"bytes": a, "below": b, "above": c} for a, b, c in curves.crossovers]},
                              indent=2))
    else:
        click.echo(curves_text(curves, title))
    if output is not None:
        plot_curves(curves, output, title)
        click.echo(f"wrote {output}", err=as_json)
    return 0
