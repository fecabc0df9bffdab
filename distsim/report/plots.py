"""Every figure distsim draws, by kind: what ``distsim plot`` and the HTML report look up.

Figures are built from traces and sweep rows only (the report layer never runs a
simulation); :func:`~distsim.report.style.save` writes them as PNG or SVG.
"""

from __future__ import annotations

import importlib
import importlib.util

from distsim.errors import InputError
from distsim.report.linkplot import bottleneck_sentence, links_figure
from distsim.report.scaling import read_sweep_csv, scaling_figure
from distsim.report.style import check_format, png_bytes, save
from distsim.report.timeline import AGGREGATE_RANKS, timeline_figure

KINDS = ("timeline", "links", "scaling", "tradeoff")
TRACE_KINDS = ("timeline", "links")  # drawn from one run's trace(s)
TRADEOFF_MODULE = "distsim.report.tradeoff"  # the rematerialization feature's plot (issue 3)

__all__ = ["AGGREGATE_RANKS", "KINDS", "TRACE_KINDS", "bottleneck_sentence", "check_format", "has_tradeoff", "links_figure", "png_bytes",
           "read_sweep_csv", "save", "scaling_figure", "timeline_figure", "tradeoff_module"]


def has_tradeoff() -> bool:
    """Whether the rematerialization feature (issue 3) has landed its trade-off plot."""
    return importlib.util.find_spec(TRADEOFF_MODULE) is not None


def tradeoff_module():
    """The rematerialization trade-off plotting module, or a clear error while it does not exist."""
    if not has_tradeoff():
        raise InputError("--kind tradeoff needs the rematerialization feature (issue 3: memory vs time trade-off), "
                         "which this version of distsim does not have yet")
    return importlib.import_module(TRADEOFF_MODULE)
