"""The Perfetto (Chrome trace) export: each message once on its sender's and once on its receiver's
track, joined by a flow arrow; a memory counter for runs with ops; only links that carried traffic
(issue 10, item 10)."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

import distsim
from conftest import run_one
from distsim.report.occupancy import link_spans
from distsim.trace.export import write_chrome_trace

US = 1e6


def events_of(trace, tmp_path, spans=None):
    path = write_chrome_trace(trace, tmp_path / "trace.json", spans)
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))["traceEvents"]


def names(events):
    """(pid, tid) -> thread name, pid -> process name."""
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    processes = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    return threads, processes


@pytest.fixture(scope="module")
def ps():
    return run_one("parameter_server", 3, 1000).trace


def test_each_message_is_a_slice_on_its_senders_track_and_on_its_receivers_with_a_flow_between(ps, tmp_path):
    events = events_of(ps, tmp_path)
    threads, processes = names(events)
    slices = [e for e in events if e["ph"] == "X" and e.get("cat") == "message"]
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    ends = {e["id"]: e for e in events if e["ph"] == "f"}
    m = ps.messages
    assert len(slices) == 2 * len(m) and len(starts) == len(ends) == len(m)
    by_id = defaultdict(dict)
    for e in slices:
        by_id[e["args"]["id"]]["send" if " send" in threads[e["pid"], e["tid"]] else "receive"] = e
    for i in range(len(m)):
        src, dst = ps.ranks[m["src"][i]], ps.ranks[m["dst"][i]]
        send, recv = by_id[i]["send"], by_id[i]["receive"]
        assert processes[send["pid"]] == src and processes[recv["pid"]] == dst
        assert send["ts"] == pytest.approx(m["t_start"][i] * US) and recv["ts"] + recv["dur"] == pytest.approx(m["t_arrive"][i] * US)
        flow_start, flow_end = starts[i], ends[i]
        assert (flow_start["pid"], flow_start["tid"]) == (send["pid"], send["tid"])
        assert (flow_end["pid"], flow_end["tid"]) == (recv["pid"], recv["tid"]) and flow_end["bp"] == "e"
        assert send["ts"] <= flow_start["ts"] <= send["ts"] + send["dur"]  # inside the slices they bind to
        assert recv["ts"] <= flow_end["ts"] <= recv["ts"] + recv["dur"] and flow_end["ts"] >= flow_start["ts"]
        assert flow_start["name"] == flow_end["name"] == "message"


def test_links_show_when_they_were_busy_not_a_copy_of_every_message(tmp_path):
    # one hop per message (a cable per pair): when each link was busy is exact, whatever the model
    trace = run_one("all_to_all", 4, 1000, topology="fully_connected").trace
    events = events_of(trace, tmp_path, link_spans(trace, np.arange(len(trace.links))))
    threads, processes = names(events)
    links = [e for e in events if e["ph"] == "X" and processes[e["pid"]] == "links"]
    assert links and all(e["cat"] == "link" and e["name"] == "busy" for e in links)
    busy, transfers = defaultdict(float), defaultdict(int)
    for e in links:
        busy[threads[e["pid"], e["tid"]]] += e["dur"] / US
        transfers[threads[e["pid"], e["tid"]]] += e["args"]["transfers"]
    for link, seconds, nbytes in zip(trace.links, trace.link_busy_time(), trace.link_bytes()):
        assert busy[link.name] == pytest.approx(seconds, rel=1e-9) and transfers[link.name] == round(nbytes / 4000)


def test_busy_stretches_merge_back_to_back_and_overlapping_transfers():
    from distsim.trace.perfetto import _link_busy

    row = np.array([0, 0, 0, 1, 0])
    start = np.array([0.0, 1.0, 5.0, 0.0, 1.5])
    end = np.array([1.0, 2.0, 6.0, 3.0, 2.5])
    stretches = [json.loads(e) for e in _link_busy(row, start, end, pid=9)]
    assert [(e["tid"], e["ts"] / US, (e["ts"] + e["dur"]) / US, e["args"]["transfers"]) for e in stretches] == [
        (0, 0.0, 2.5, 3), (0, 5.0, 6.0, 1), (1, 0.0, 3.0, 1)]


def test_without_link_spans_there_are_no_link_tracks(ps, tmp_path):
    _, processes = names(events_of(ps, tmp_path))
    assert "links" not in processes.values()


def test_no_two_slices_overlap_on_one_track_even_when_sends_share_links(tmp_path):
    text = ("cluster:\n  workers: 5\n  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us, model: flow}\n"
            "model: {params: 2000}\nstrategy: {kind: all_to_all}\n")
    (outcome,) = distsim.run(*distsim.loads(text, "a2a.yaml"))
    events = events_of(outcome.trace, tmp_path)
    tracks = defaultdict(list)
    for e in events:
        if e["ph"] == "X":
            tracks[e["pid"], e["tid"]].append((e["ts"], e["ts"] + e["dur"]))
    for spans in tracks.values():
        spans.sort()
        assert all(later[0] >= earlier[1] - 1e-9 for earlier, later in zip(spans, spans[1:]))
    assert sum(1 for e in events if e["ph"] == "X" and e.get("cat") == "message") == 2 * len(outcome.trace.messages)


def test_a_remat_run_has_a_memory_counter_track_from_the_op_trace(tmp_path):
    (outcome,) = distsim.run(*distsim.loads(
        "cluster: {workers: 1, gpu: {memory: 80 GiB}}\nmodel: {layers: 6, layer: {fwd_time: 1 ms, bwd_time: 2 ms, "
        "activation: 1 MiB}}\nstrategy: {kind: checkpoint_every_k, k: 2}\n", "chain.yaml"))
    trace = outcome.trace
    events = events_of(trace, tmp_path)
    _, processes = names(events)
    counter = [e for e in events if e["ph"] == "C"]
    assert counter and all(processes[e["pid"]] == "w0" and e["name"] == "memory in use" for e in counter)
    values = [e["args"]["bytes"] for e in counter]
    ops = trace.ops.columns()
    assert max(values) == int(ops["memory_in_use"].max()) == outcome.reconciliation.simulated["peak_activation_bytes"]
    changes = [0] + [i for i in range(1, len(ops["memory_in_use"])) if ops["memory_in_use"][i] != ops["memory_in_use"][i - 1]]
    assert [e["ts"] for e in counter] == pytest.approx([ops["t_start"][i] * US for i in changes])
    assert values == [int(ops["memory_in_use"][i]) for i in changes]


def test_the_same_trace_gives_the_same_file(ps, tmp_path):
    first = write_chrome_trace(ps, tmp_path / "a.json").read_bytes()
    assert write_chrome_trace(ps, tmp_path / "b.json").read_bytes() == first
    assert np.isfinite([e.get("ts", 0) for e in json.loads(first)["traceEvents"]]).all()
