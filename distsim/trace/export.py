"""Traces to files: CSV tables, and Chrome-trace JSON that opens in Perfetto (ui.perfetto.dev).

The Chrome trace has one track per rank (its ops) and one per link (the messages
it carried, as slices from transfer start to transfer end), so contention shows
as back-to-back slices on one link. Written as a stream: a two-million-message
trace never has to exist as one Python list of events.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from distsim.trace import Trace
from distsim.trace.load import write_layout

WORKERS_PID, LINKS_PID = 1, 2


def write_csvs(trace: Trace, directory: Path) -> list[Path]:
    """messages.csv, ops.csv and links.csv in ``directory``; names instead of codes where it helps."""
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


def write_chrome_trace(trace: Trace, path: Path) -> Path:
    """Chrome trace-event JSON; times in microseconds as the format requires."""
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"displayTimeUnit": "ns", "traceEvents": [\n')
        first = True
        for event in _events(trace):
            out.write(("" if first else ",\n") + json.dumps(event, separators=(",", ":")))
            first = False
        out.write("\n]}\n")
    return path


def _events(trace: Trace):
    yield {"ph": "M", "name": "process_name", "pid": WORKERS_PID, "args": {"name": "ranks"}}
    yield {"ph": "M", "name": "process_name", "pid": LINKS_PID, "args": {"name": "links"}}
    for rank, name in enumerate(trace.ranks):
        yield {"ph": "M", "name": "thread_name", "pid": WORKERS_PID, "tid": rank, "args": {"name": name}}
    for link in trace.links:
        yield {"ph": "M", "name": "thread_name", "pid": LINKS_PID, "tid": link.id, "args": {"name": link.name}}
    o = trace.ops.columns()
    for rank, kind, index, start, end, flops, nbytes in zip(
        o["rank"].tolist(), o["kind"].tolist(), o["index"].tolist(), o["t_start"].tolist(),
        o["t_end"].tolist(), o["flops"].tolist(), o["nbytes"].tolist(),
    ):
        yield {"ph": "X", "pid": WORKERS_PID, "tid": rank, "name": trace.op_kinds[kind], "ts": start * 1e6,
               "dur": (end - start) * 1e6, "args": {"index": index, "flops": flops, "nbytes": nbytes}}
    yield from _message_events(trace)


def _message_events(trace: Trace):
    m = trace.messages.columns()
    place = trace.placement
    bandwidth = {key: min(trace.links[i].bandwidth for i in ids) for key, ids in trace.routes.items()}
    for i, (src, dst, nbytes, phase, step, start) in enumerate(zip(
        m["src"].tolist(), m["dst"].tolist(), m["nbytes"].tolist(), m["phase"].tolist(),
        m["step"].tolist(), m["t_start"].tolist(),
    )):
        key = (place[src], place[dst])
        duration = nbytes / bandwidth[key] * 1e6
        args = {"id": i, "src": trace.ranks[src], "dst": trace.ranks[dst], "bytes": nbytes, "step": step}
        for link in trace.routes[key]:
            yield {"ph": "X", "pid": LINKS_PID, "tid": link, "name": trace.phases[phase], "ts": start * 1e6,
                   "dur": duration, "args": args}
