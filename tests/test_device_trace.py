"""What the device adds to a trace (streams, memory by category) survives CSV and reaches Perfetto."""

from __future__ import annotations

import json

from distsim.engine import Device, Phantom, World
from distsim.hardware import build_topology
from distsim.trace.export import write_chrome_trace, write_csvs
from distsim.trace.load import load_trace
from distsim.trace.memory import peaks
from distsim.trace.perfetto import OPS_TID


def overlapped() -> World:
    """w0 computes while its comm stream sends a bucket to w1; both ranks hold weights and buffers."""
    names = ["w0", "w1"]
    w = World(build_topology("switch", names, 1e9, 1e-6), names, [0, 1], Device(1e12, 1e9), 4)

    def bucket(ctx):
        ctx.allocate(400, "bucket", "buffers")
        ctx.send(1, Phantom(100), "bucket")
        yield ctx.op("launch", 1e-7)
        ctx.release(400, "buffers")

    def worker(ctx):
        ctx.allocate(1000, "weights", "weights")
        comm = ctx.stream(bucket(ctx))
        ctx.allocate(3000, "block 0 activations")
        yield ctx.compute("bwd", 2e6, index=0)
        ctx.release(3000)
        yield comm

    def receiver(ctx):
        ctx.allocate(400, "receive buffer", "buffers")
        yield ctx.recv(0)

    w.spawn(0, worker(w.contexts[0]))
    w.spawn(1, receiver(w.contexts[1]))
    w.run()
    return w


def test_streams_and_memory_round_trip_through_the_csv_files_exactly(tmp_path):
    trace = overlapped().trace
    write_csvs(trace, tmp_path)
    back = load_trace(tmp_path)
    assert back.streams == trace.streams == ["compute", "comm"]
    for name in trace.ops.dtype.names:
        assert back.ops[name].tolist() == trace.ops[name].tolist(), name
    for name in trace.memory.dtype.names:
        assert back.memory[name].tolist() == trace.memory[name].tolist(), name
    assert peaks(back.memory, 2) == peaks(trace.memory, 2)
    assert peaks(trace.memory, 2)[0].by_category == {"weights": 1000, "gradients": 0, "optimizer": 0,
                                                      "activations": 3000, "buffers": 400}


def test_a_trace_written_before_streams_and_memory_loads_with_one_stream_and_no_memory_table(tmp_path):
    trace = overlapped().trace
    write_csvs(trace, tmp_path)
    (tmp_path / "memory.csv").unlink()
    ops = (tmp_path / "ops.csv").read_text().splitlines()
    (tmp_path / "ops.csv").write_text("\n".join(line.rsplit(",", 1)[0] for line in ops) + "\n")
    back = load_trace(tmp_path)
    assert back.ops["stream"].tolist() == [0] * len(trace.ops) and len(back.memory) == 0


def test_perfetto_draws_each_stream_as_a_thread_and_memory_as_a_stacked_counter(tmp_path):
    trace = overlapped().trace
    events = json.loads(write_chrome_trace(trace, tmp_path / "t.json").read_text())["traceEvents"]
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert threads[1, OPS_TID] == "w0" and threads[1, OPS_TID + 1] == "w0 comm" and (2, OPS_TID + 1) not in threads
    ops = {e["name"]: (e["tid"], e["ts"], e["dur"]) for e in events if e["ph"] == "X" and e["cat"] == "op"}
    assert ops == {"bwd": (OPS_TID, 0.0, 2.0), "launch": (OPS_TID + 1, 0.0, 0.1)}
    stacked = [(e["pid"], e["ts"], e["args"]) for e in events if e["ph"] == "C" and e["name"] == "memory by category"]
    assert stacked[-1] == (1, 2.0, {"weights": 1000, "gradients": 0, "optimizer": 0, "activations": 0, "buffers": 0})
    assert max(sum(args.values()) for pid, _, args in stacked if pid == 1) == 4400
