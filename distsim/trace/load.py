"""Read a ``--trace-out`` directory back into a :class:`Trace`, so it can be plotted without re-running.

The CSVs name ranks, phases and links; ``layout.json`` (written beside them by
:func:`write_layout`) adds what the CSVs cannot say on their own: which node each
rank sits on, every route a message took (link ids), and the makespan. Together
they rebuild the trace exactly: floats are written with ``repr`` and read back
bit for bit.

Reading is column-wise: numpy's C reader parses each type of column in one pass
and names become codes with one lookup per distinct name, so a two-million-message
trace loads in about 8 s (as long as writing it takes), not minutes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from distsim.trace import STREAMS, LinkInfo, Trace
from distsim.trace.memory import CATEGORIES
from distsim.trace.table import Table

LAYOUT = "layout.json"
MEMORY = "memory.csv"  # written since format 2; a trace without it has no memory table
FILES = ("messages.csv", "ops.csv", "links.csv", LAYOUT)
FORMAT_VERSION = 2


class TraceFormatError(ValueError):
    """A directory that is not (or not entirely) a distsim trace; the message says what is missing."""


def write_layout(trace: Trace, directory: Path) -> Path:
    """``layout.json``: ranks, placement, nodes, phases, op kinds, routes, makespan and metadata."""
    path = Path(directory) / LAYOUT
    layout = {
        "format": FORMAT_VERSION,
        "ranks": trace.ranks,
        "placement": trace.placement,
        "nodes": trace.nodes,
        "phases": trace.phases,
        "op_kinds": trace.op_kinds,
        "streams": trace.streams,
        "routes": [[a, b, list(links)] for (a, b), links in sorted(trace.routes.items())],
        "reroutes": [[t, a, b, list(links)] for t, a, b, links in trace.reroutes],
        "makespan": trace.makespan,
        "network": trace.network,
        "meta": trace.meta,
    }
    path.write_text(json.dumps(layout, indent=1, default=str), encoding="utf-8")
    return path


def trace_directories(directory: Path) -> list[Path]:
    """The trace directories under ``directory``: itself, or one per strategy (several strategies)."""
    directory = Path(directory)
    if (directory / "messages.csv").exists():
        return [directory]
    # Hidden folders are skipped: a run killed while writing leaves its unfinished temporary folder so named.
    found = sorted(d for d in directory.iterdir()
                   if d.is_dir() and not d.name.startswith(".") and (d / "messages.csv").exists()) if directory.is_dir() else []
    if not found:
        raise TraceFormatError(f"{directory}: no messages.csv here or in a subdirectory (is it a --trace-out directory?)")
    return found


def load_trace(directory: Path) -> Trace:
    """The trace written to ``directory`` by ``distsim run --trace-out``."""
    directory = Path(directory)
    missing = [name for name in FILES if not (directory / name).exists()]
    if missing:
        raise TraceFormatError(f"{directory}: missing {', '.join(missing)} (written by 'distsim run --trace-out')")
    try:
        layout = json.loads((directory / LAYOUT).read_text(encoding="utf-8"))
        links = [
            LinkInfo(int(r["id"]), r["name"], r["src"], r["dst"], float(r["bandwidth"]), float(r["latency"]))
            for r in _rows(directory / "links.csv")
        ]
        trace = Trace(
            ranks=list(layout["ranks"]), placement=list(layout["placement"]), nodes=list(layout["nodes"]), links=links,
            phases=list(layout["phases"]), op_kinds=list(layout["op_kinds"]), streams=list(layout.get("streams", STREAMS)),
            routes={(a, b): tuple(ids) for a, b, ids in layout["routes"]},
            reroutes=[(float(t), a, b, tuple(ids)) for t, a, b, ids in layout.get("reroutes", [])],
            makespan=float(layout["makespan"]), meta=dict(layout.get("meta", {})),
            network=str(layout.get("network", "cut_through")),
        )
        _fill_messages(trace, directory / "messages.csv")
        _fill_ops(trace, directory / "ops.csv")
        if (directory / "hops.csv").exists():  # older traces have none: every hop is then derived
            c = _columns(directory / "hops.csv", {"message": np.int64, "hop": np.int64, "t_start": np.float64})
            _fill(trace.hops, c)
        if (directory / MEMORY).exists():  # older traces have none: no memory table
            _fill_memory(trace, directory / MEMORY)
    except (KeyError, ValueError, TypeError, IndexError, json.JSONDecodeError) as exc:
        raise TraceFormatError(f"{directory}: not a readable distsim trace ({type(exc).__name__}: {exc})") from None
    return trace


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _columns(path: Path, types: dict[str, type], optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The named columns of a CSV as typed arrays, parsed by numpy's C reader, one pass per type
    (two million rows in seconds; ``str`` columns are names, mapped to codes by :func:`_codes`).
    ``optional`` columns (added by a later format) may be absent: they are left out of the result."""
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
        empty = not handle.readline().strip()
    types = {name: kind for name, kind in types.items() if name in header or name not in optional}
    missing = [name for name in types if name not in header]
    if missing:
        raise ValueError(f"{path.name} has no column {missing[0]!r}")
    columns = {}
    for kind in dict.fromkeys(types.values()):
        names = [name for name, t in types.items() if t is kind]
        if empty:
            columns.update({name: np.zeros(0, dtype=kind) for name in names})
            continue
        table = np.loadtxt(path, dtype=kind, delimiter=",", quotechar='"', skiprows=1, ndmin=2, comments=None,
                           encoding="utf-8", usecols=[header.index(name) for name in names])
        columns.update({name: table[:, i] for i, name in enumerate(names)})
    return columns


def _codes(values: np.ndarray, names: list[str], what: str) -> np.ndarray:
    """Names -> their index in ``names`` (ranks, phases, op kinds, links): one lookup per distinct name."""
    index = {name: i for i, name in enumerate(names)}
    distinct, inverse = np.unique(values, return_inverse=True)
    try:
        codes = np.array([index[str(v)] for v in distinct], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"unknown {what} {exc.args[0]!r}") from None
    return codes[inverse.reshape(-1)] if len(distinct) else np.zeros(0, dtype=np.int64)


def _fill(table: Table, columns: dict[str, np.ndarray]) -> None:
    """Pack whole columns into ``table`` at once (its rows are typed bytes)."""
    count = len(next(iter(columns.values()))) if columns else 0
    packed = np.zeros(count, dtype=table.dtype)
    for name in table.dtype.names:
        packed[name] = columns[name]
    extend, _ = table.sink()
    extend(packed.tobytes())


def _fill_messages(trace: Trace, path: Path) -> None:
    c = _columns(path, {"src": str, "dst": str, "phase": str, "blocked_by": str, "nbytes": np.int64, "step": np.int64,
                        "t_send": np.float64, "t_start": np.float64, "t_arrive": np.float64})
    blocked = _codes(c["blocked_by"], [link.name for link in trace.links] + [""], "link")
    blocked[blocked == len(trace.links)] = -1  # "" (not blocked)
    _fill(trace.messages, {
        "src": _codes(c["src"], trace.ranks, "rank"), "dst": _codes(c["dst"], trace.ranks, "rank"),
        "nbytes": c["nbytes"], "phase": _codes(c["phase"], trace.phases or [""], "phase"),
        "step": c["step"], "t_send": c["t_send"],
        "t_start": c["t_start"], "t_arrive": c["t_arrive"],
        "blocked_by": blocked,
    })


def _fill_ops(trace: Trace, path: Path) -> None:
    c = _columns(path, {"rank": str, "kind": str, "index": np.int64, "nbytes": np.int64, "memory_in_use": np.int64,
                        "t_start": np.float64, "t_end": np.float64, "flops": np.float64, "stream": str}, optional=("stream",))
    _fill(trace.ops, {
        "rank": _codes(c["rank"], trace.ranks, "rank"), "kind": _codes(c["kind"], trace.op_kinds or [""], "op kind"),
        "index": c["index"], "t_start": c["t_start"],
        "t_end": c["t_end"], "flops": c["flops"],
        "nbytes": c["nbytes"], "memory_in_use": c["memory_in_use"],
        "stream": _codes(c["stream"], trace.streams, "stream") if "stream" in c else np.zeros(len(c["rank"]), np.int64),
    })


def _fill_memory(trace: Trace, path: Path) -> None:
    c = _columns(path, {"rank": str, "category": str, "t": np.float64, "nbytes": np.int64, "total": np.int64})
    _fill(trace.memory, {
        "rank": _codes(c["rank"], trace.ranks, "rank"), "category": _codes(c["category"], list(CATEGORIES), "memory category"),
        "t": c["t"], "nbytes": c["nbytes"], "total": c["total"],
    })
