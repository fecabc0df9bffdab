"""Traces to files: CSV tables, and Chrome-trace JSON that opens in Perfetto (ui.perfetto.dev).

The Chrome trace (``perfetto.py``) shows each rank's ops, sends and receives, a flow
arrow per message from sender to receiver, memory in use over time, and when each
link that carried traffic was busy.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from distsim.trace import Trace
from distsim.trace.load import write_layout
from distsim.trace.perfetto import write_chrome_trace

__all__ = ["write_chrome_trace", "write_csvs"]


def write_csvs(trace: Trace, directory: Path) -> list[Path]:
    """messages.csv, ops.csv, links.csv and hops.csv in ``directory``; names instead of codes where it helps."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / "messages.csv", directory / "ops.csv", directory / "links.csv"]
    m = trace.messages.columns()
    names = np.array(trace.ranks, dtype=object)
    phases = np.array(trace.phases or [""], dtype=object)
    _write_table(
        paths[0],
        ["id", "src", "dst", "nbytes", "phase", "step", "t_send", "t_start", "t_arrive", "blocked_by"],
        [m["id"], names[m["src"]], names[m["dst"]], m["nbytes"], phases[m["phase"]],
         m["step"], m["t_send"], m["t_start"], m["t_arrive"], _link_names(trace, m["blocked_by"])],
    )
    o = trace.ops.columns()
    kinds = np.array(trace.op_kinds or [""], dtype=object)
    _write_table(
        paths[1],
        ["rank", "kind", "index", "t_start", "t_end", "flops", "nbytes", "memory_in_use"],
        [names[o["rank"]], kinds[o["kind"]], o["index"], o["t_start"], o["t_end"], o["flops"], o["nbytes"], o["memory_in_use"]],
    )
    carried, busy = trace.link_bytes(), trace.link_busy_time()
    _write_table(
        paths[2],
        ["id", "name", "src", "dst", "bandwidth", "latency", "bytes", "busy_s"],
        [[l.id for l in trace.links], [l.name for l in trace.links], [l.src for l in trace.links],
         [l.dst for l in trace.links], [l.bandwidth for l in trace.links], [l.latency for l in trace.links],
         carried, busy],
    )
    h = trace.hops.columns()
    paths.append(directory / "hops.csv")
    _write_table(paths[-1], ["message", "hop", "t_start"], [h["message"], h["hop"], h["t_start"]])
    paths.append(write_layout(trace, directory))  # ranks' nodes and routes: the CSVs can be read back
    return paths


def _link_names(trace: Trace, ids: np.ndarray) -> np.ndarray:
    table = np.array([l.name for l in trace.links] + [""], dtype=object)
    return table[ids]  # -1 (not blocked) picks the trailing ""


def _write_table(path: Path, header: list[str], columns: list) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(zip(*[_plain(c) for c in columns]))


def _plain(column):
    """Python scalars, with floats written exactly (repr round-trips)."""
    return column.tolist() if isinstance(column, np.ndarray) else list(column)
