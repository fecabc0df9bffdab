"""The order links are listed in, in every figure: by tier, then by name as a person counts (w2 before w10).

A link's tier follows from its endpoints: from a rank's node to a switch is an
**uplink**, from a switch to a node a **downlink**, between two switches a
**trunk**, and between two nodes (the ``ring`` and ``fully_connected`` topologies)
a **direct** link. A node is a name in ``trace.nodes`` (where ranks run); anything
else on a route is a switch.
"""

from __future__ import annotations

import re

from matplotlib.transforms import blended_transform_factory

from distsim.trace import Trace

TIERS = ("uplinks", "downlinks", "trunks", "direct")
_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that compares runs of digits as numbers: w2 < w10, switch->w9 < switch->w10."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in _DIGITS.split(name) if part)


def tier(trace: Trace, link_id: int, nodes: set[str] | None = None) -> str:
    """The tier of one link (see the module docstring)."""
    nodes = set(trace.nodes) if nodes is None else nodes
    link = trace.links[link_id]
    up, down = link.src in nodes, link.dst in nodes
    return ("direct" if down else "uplinks") if up else ("downlinks" if down else "trunks")


def link_tiers(trace: Trace, ids) -> list[tuple[str, list[int]]]:
    """The links ``ids`` as (tier, link ids in natural name order), tiers in TIERS order, empty tiers left out."""
    nodes = set(trace.nodes)
    found: dict[str, list[int]] = {name: [] for name in TIERS}
    for link_id in ids:
        found[tier(trace, int(link_id), nodes)].append(int(link_id))
    return [(name, sorted(found[name], key=lambda i: natural_key(trace.links[i].name))) for name in TIERS if found[name]]



def mark_tiers(ax, tiers: list[tuple[str, list]], x: float, **text) -> None:
    """On a chart with a row per link in ``tiers`` order: a line between tiers, and each tier's name
    at ``x`` (axes fraction) beside its rows."""
    where = blended_transform_factory(ax.transAxes, ax.transData)
    top = 0
    for name, members in tiers:
        if top:
            ax.axhline(top - 0.5, color="black", linewidth=0.7)
        ax.text(x, top + len(members) / 2 - 0.5, name, transform=where, fontsize=8, va="center", **text)
        top += len(members)
