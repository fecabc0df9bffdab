"""A trace as Chrome trace-event JSON, for Perfetto (ui.perfetto.dev) and chrome://tracing.

What it shows, and why:

* **Each rank is a process** with a thread for its ops (compute, loads, stores),
  one for what it **sends** and one for what it **receives**. A message is one slice
  on its sender's send track (from the start of its transfer for nbytes over the
  route's bandwidth) and one on its receiver's receive track (the same length,
  ending when its last byte arrives), joined by a **flow arrow** (``ph`` ``s`` and
  ``f``, bound to the enclosing slices, ``bp: e``). Tracks must hold slices that
  nest, so when a model lets one rank's transfers overlap (``flow``), the
  overlapping ones go to extra lanes ("w0 send 2").
* **Memory in use** is a counter track per rank (``ph`` ``C``), from the op
  table's ``memory_in_use`` (what the device holds from each op on): the
  rematerialization schedules' memory over time.
* **Links** get a track only if they carried traffic, and show when they were
  busy: one "busy" slice per stretch of overlapping or back-to-back transfers
  (with how many transfers), not a copy of every message. When each link was busy
  is the network model's business, not the trace's (which has each message's
  first-hop start and arrival only): the caller hands in the link spans, as the
  figures draw them (``distsim.report.occupancy.link_spans``); without them the
  link tracks are left out.

Events are written one by one as they are made: a two-million-message trace never
exists as one Python list. Times are in microseconds, as the format requires.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from distsim.trace import Trace

US = 1e6
OPS_TID, SEND_TID, RECEIVE_TID = 0, 1000, 2000  # lanes of a rank's sends are SEND_TID, SEND_TID + 1, ...


def write_chrome_trace(trace: Trace, path: Path, link_spans=None) -> Path:
    """Write the trace-event JSON of ``trace`` to ``path``. ``link_spans``: when each link was busy, as
    arrays ``row`` (the link id), ``start`` and ``end`` (seconds), e.g. ``report.occupancy.link_spans``."""
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"displayTimeUnit": "ns", "traceEvents": [\n')
        first = True
        for event in events(trace, link_spans):
            out.write(event if first else ",\n" + event)
            first = False
        out.write("\n]}\n")
    return Path(path)


def events(trace: Trace, link_spans=None):
    """Every event as a JSON text, metadata first."""
    m = _messages(trace)
    yield from _rank_metadata(trace, m)
    yield from _ops(trace)
    yield from _memory(trace)
    yield from _message_slices(trace, m)
    if link_spans is not None:
        yield from _links(trace, link_spans, len(trace.ranks) + 1)


def _links(trace: Trace, spans, pid: int):
    """A track per link that carried traffic, with its busy stretches."""
    used = np.flatnonzero(trace.link_bytes() > 0)
    if len(used):
        yield _meta("process_name", pid, None, "links")
        yield _meta("process_sort_index", pid, None, len(trace.ranks) + 1, key="sort_index")
    for link in used.tolist():
        yield _meta("thread_name", pid, link, trace.links[link].name)
    yield from _link_busy(np.asarray(spans.row), np.asarray(spans.start), np.asarray(spans.end), pid)


def _t(seconds: float) -> str:
    """A time in microseconds to 0.1 ns, as JSON: enough for the trace's nanosecond ops, and short."""
    return f"{seconds * US:.4f}"


def _dur(start: float, end: float) -> str:
    """end - start as written: the difference of the rounded ends, so back-to-back slices stay back to back."""
    return f"{round(end * US, 4) - round(start * US, 4):.4f}"


def _meta(kind: str, pid: int, tid: int | None, value, key: str = "name") -> str:
    thread = "" if tid is None else f',"tid":{tid}'
    return f'{{"ph":"M","name":"{kind}","pid":{pid}{thread},"args":{{"{key}":{json.dumps(value)}}}}}'


def _messages(trace: Trace) -> dict:
    """The message columns, each transfer's duration on its route, and the send and receive lanes."""
    m = {k: v for k, v in trace.messages.columns().items()}
    count = len(m["src"]) if m else 0
    if not count:
        return {"count": 0}
    place = np.asarray(trace.placement, dtype=np.int64)
    nodes = len(trace.nodes)
    pair = place[m["src"]] * nodes + place[m["dst"]]
    unique, inverse = np.unique(pair, return_inverse=True)
    bandwidth = np.array([min(trace.links[i].bandwidth for i in trace.routes[divmod(int(code), nodes)]) for code in unique])
    m["transfer"] = m["nbytes"] / bandwidth[inverse]
    m["send_end"] = m["t_start"] + m["transfer"]
    m["recv_start"] = np.maximum(m["t_arrive"] - m["transfer"], m["t_start"])
    m["send_lane"] = lanes(m["src"], m["t_start"], m["send_end"])
    m["recv_lane"] = lanes(m["dst"], m["recv_start"], m["t_arrive"])
    m["count"] = count
    return m


def lanes(owner: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """A lane per interval such that one owner's intervals in one lane never overlap (first fit, by start).

    Most models never overlap one rank's transfers: then every lane is 0, found without a Python loop."""
    lane = np.zeros(len(owner), dtype=np.int64)
    order = np.lexsort((end, start, owner))
    owners, bounds = np.unique(owner[order], return_index=True)
    for k in range(len(owners)):
        rows = order[bounds[k]: bounds[k + 1] if k + 1 < len(owners) else len(order)]
        reach = np.maximum.accumulate(end[rows])
        if len(rows) > 1 and np.any(start[rows][1:] < reach[:-1]):
            lane[rows] = _first_fit(start[rows].tolist(), end[rows].tolist())
    return lane


def _first_fit(starts: list[float], ends: list[float]) -> list[int]:
    free_from: list[float] = []  # per lane: when its last interval ends
    chosen = []
    for start, end in zip(starts, ends):
        for k, until in enumerate(free_from):
            if until <= start:
                free_from[k] = end
                chosen.append(k)
                break
        else:
            free_from.append(end)
            chosen.append(len(free_from) - 1)
    return chosen


def _rank_metadata(trace: Trace, m: dict):
    send_lanes = _lanes_per_rank(trace, m, "src", "send_lane")
    recv_lanes = _lanes_per_rank(trace, m, "dst", "recv_lane")
    for rank, name in enumerate(trace.ranks):
        pid = rank + 1
        yield _meta("process_name", pid, None, name)
        yield _meta("process_sort_index", pid, None, rank, key="sort_index")
        yield _meta("thread_name", pid, OPS_TID, name)
        for base, label, count in ((SEND_TID, "send", send_lanes[rank]), (RECEIVE_TID, "receive", recv_lanes[rank])):
            for lane in range(count):
                yield _meta("thread_name", pid, base + lane, f"{name} {label}" + (f" {lane + 1}" if lane else ""))
                yield _meta("thread_sort_index", pid, base + lane, base + lane, key="sort_index")


def _lanes_per_rank(trace: Trace, m: dict, who: str, lane: str) -> list[int]:
    """How many send (or receive) lanes each rank needs: 0 if it sent (received) nothing."""
    if not m["count"]:
        return [0] * len(trace.ranks)
    most = np.full(len(trace.ranks), -1, dtype=np.int64)
    np.maximum.at(most, m[who], m[lane])
    return (most + 1).tolist()


def _ops(trace: Trace):
    o = trace.ops.columns()
    kinds = [json.dumps(k) for k in trace.op_kinds]
    for rank, kind, index, start, end, flops, nbytes in zip(
        o["rank"].tolist(), o["kind"].tolist(), o["index"].tolist(), o["t_start"].tolist(),
        o["t_end"].tolist(), o["flops"].tolist(), o["nbytes"].tolist(),
    ):
        yield (f'{{"ph":"X","cat":"op","name":{kinds[kind]},"pid":{rank + 1},"tid":{OPS_TID},"ts":{_t(start)},'
               f'"dur":{_dur(start, end)},"args":{{"index":{index},"flops":{flops!r},"bytes":{nbytes}}}}}')


def _memory(trace: Trace):
    """A 'memory in use' counter per rank: a point at each op whose memory differs from the rank's previous op."""
    o = trace.ops.columns()
    if not len(trace.ops):
        return
    last: dict[int, int] = {}
    for rank, start, memory in zip(o["rank"].tolist(), o["t_start"].tolist(), o["memory_in_use"].tolist()):
        if last.get(rank) != memory:
            last[rank] = memory
            yield f'{{"ph":"C","name":"memory in use","pid":{rank + 1},"ts":{_t(start)},"args":{{"bytes":{memory}}}}}'


def _message_slices(trace: Trace, m: dict):
    if not m["count"]:
        return
    phases = [json.dumps(p or "message") for p in trace.phases] or ['"message"']
    ranks = [json.dumps(r) for r in trace.ranks]
    for i, (src, dst, nbytes, phase, step, start, send_end, recv_start, arrive, send_lane, recv_lane) in enumerate(zip(
        m["src"].tolist(), m["dst"].tolist(), m["nbytes"].tolist(), m["phase"].tolist(), m["step"].tolist(),
        m["t_start"].tolist(), m["send_end"].tolist(), m["recv_start"].tolist(), m["t_arrive"].tolist(),
        m["send_lane"].tolist(), m["recv_lane"].tolist(),
    )):
        name = phases[phase]
        args = f'"args":{{"id":{i},"src":{ranks[src]},"dst":{ranks[dst]},"bytes":{nbytes},"step":{step}}}'
        send_tid, recv_tid = SEND_TID + send_lane, RECEIVE_TID + recv_lane
        yield (f'{{"ph":"X","cat":"message","name":{name},"pid":{src + 1},"tid":{send_tid},"ts":{_t(start)},'
               f'"dur":{_dur(start, send_end)},{args}}}')
        yield (f'{{"ph":"X","cat":"message","name":{name},"pid":{dst + 1},"tid":{recv_tid},"ts":{_t(recv_start)},'
               f'"dur":{_dur(recv_start, arrive)},"args":{{"id":{i}}}}}')
        # The arrow, bound to the slices it starts and ends inside (their middles: after each slice opens).
        yield (f'{{"ph":"s","name":"message","id":{i},"pid":{src + 1},"tid":{send_tid},'
               f'"ts":{_t((start + send_end) / 2)}}}')
        yield (f'{{"ph":"f","bp":"e","name":"message","id":{i},"pid":{dst + 1},"tid":{recv_tid},'
               f'"ts":{_t((recv_start + arrive) / 2)}}}')


def _link_busy(link_of: np.ndarray, start: np.ndarray, end: np.ndarray, pid: int):
    """Per link, one 'busy' slice per stretch of overlapping or back-to-back transfers."""
    keep = link_of >= 0
    link_of, start, end = link_of[keep], start[keep], end[keep]
    order = np.lexsort((end, start, link_of))
    link_of, start, end = link_of[order], start[order], end[order]
    links, bounds = np.unique(link_of, return_index=True)
    bounds = bounds.tolist() + [len(link_of)]
    for k, link in enumerate(links.tolist()):
        s, reach = start[bounds[k]:bounds[k + 1]], np.maximum.accumulate(end[bounds[k]:bounds[k + 1]])
        first = np.concatenate([[0], np.flatnonzero(s[1:] > reach[:-1]) + 1])  # each stretch's first transfer
        last = np.concatenate([first[1:], [len(s)]])
        for a, z in zip(first.tolist(), last.tolist()):
            t0, t1 = float(s[a]), float(reach[z - 1])
            yield (f'{{"ph":"X","cat":"link","name":"busy","pid":{pid},"tid":{link},"ts":{_t(t0)},'
                   f'"dur":{_dur(t0, t1)},"args":{{"transfers":{z - a}}}}}')
