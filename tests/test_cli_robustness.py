"""Issue 10, item 1: command lines that ended in a traceback or a stall.

``bench --sizes 0``, a malformed ``--scheduler`` address (a 20 s stall, then the
Dask client's traceback), and Ctrl-C on ``sweep -j 2`` (every worker printed its
KeyboardInterrupt traceback) each end in one line and the right exit code.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import invoke, scenario_yaml
from distsim.errors import InputError
from distsim.sweep.executors import executor_for

ROOT = Path(__file__).resolve().parent.parent


def one_line(result, code: int, *words: str) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def in_process(*args) -> SimpleNamespace:
    code, out, err = invoke(*args)
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


@pytest.mark.parametrize("sizes", ["0", "1", "-4", "8,0", "x", "8,,16"])
def test_bench_sizes_are_checked(sizes):
    line = one_line(in_process("bench", "--sizes", sizes, "--repeat", "1"), 2, "--sizes")
    assert "Usage" not in line


@pytest.mark.parametrize("address", ["tcp://[::1", "tcp://host:99999", "tcp://:x", "tcp://host", "bogus://host:1", ""])
def test_a_malformed_scheduler_address_fails_at_once(tmp_path, address):
    started = time.monotonic()
    with pytest.raises(InputError, match="--scheduler"):
        executor_for("dask", scheduler=address or " ")
    assert time.monotonic() - started < 5  # a guard against the 20 s stall, not a timing test


def test_a_malformed_scheduler_address_through_the_command_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(scenario_yaml("ring_allreduce", 4, 100) + "sweep:\n  cluster.workers: [2, 3]\n")
    one_line(in_process("sweep", path, "--executor", "dask", "--scheduler", "tcp://[::1"), 2, "--scheduler")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc (Linux)")
@pytest.mark.parametrize("delay", [0.0, 0.5])  # as the workers start (they printed tracebacks), and while they run
def test_ctrl_c_on_a_parallel_sweep_is_one_line(tmp_path, delay):
    path, out = tmp_path / "s.yaml", tmp_path / "out.csv"
    path.write_text(scenario_yaml("ring_allreduce", 4, 10**6) + "sweep:\n  cluster.workers: [600, 700, 800, 900, 1000]\n")
    process = subprocess.Popen([sys.executable, "-m", "distsim", "sweep", str(path), "-j", "2", "-o", str(out)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(_children(process.pid)) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert len(_children(process.pid)) >= 2, "the sweep's worker processes did not start"
    time.sleep(delay)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole foreground group
    _, err = process.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert process.returncode == 130 and lines == ["distsim: interrupted"], err
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no worker left behind
    if out.exists():  # the points that finished, whole rows only (a rerun resumes from them)
        rows = list(csv.reader(io.StringIO(out.read_text())))
        assert rows and all(len(row) == len(rows[0]) for row in rows)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
