"""Issue 10, items 1 and 4: outputs go only where they may, whole, and never over a special file.

Destinations that used to end in a traceback (a path under a regular file, /proc,
a FIFO, a 5,000-character name) are one located line with exit code 2, before the
simulation runs; a FIFO or device is never replaced or read; a reused
``--trace-out`` folder holds exactly the new run; an unfinished one is never read
by ``plot``; two sweeps cannot write one CSV at once.

No test here writes to a device: the checks are pure, and FIFOs made in a
temporary folder stand for every special file.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import invoke, scenario_yaml
from distsim.errors import InputError
from distsim.fileio import atomic_directory, check_input_file, check_output, exclusive, write_text
from distsim.trace.load import trace_directories

ROOT = Path(__file__).resolve().parent.parent
RING = scenario_yaml("ring_allreduce", 4, 400)
TWO = RING.replace("strategy: {kind: ring_allreduce}", "strategy: [{kind: ring_allreduce}, {kind: all_to_all}]")
SWEEP = RING + "sweep:\n  cluster.workers: [2, 3]\n"


def cli(*args) -> SimpleNamespace:
    """The command in this process (fast); ``returncode``, ``stdout`` and ``stderr`` as a subprocess has them."""
    code, out, err = invoke(*args)
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def cli_process(*args, timeout: float = 60) -> subprocess.CompletedProcess:
    """In a process of its own: where a regression would block (reading a FIFO), the timeout ends it."""
    return subprocess.run([sys.executable, "-m", "distsim", *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def refused(result, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("distsim: error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def files(tmp_path):
    (tmp_path / "s.yaml").write_text(RING)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    (tmp_path / "afile").write_text("a file, not a folder\n")
    os.mkfifo(tmp_path / "fifo")
    os.mkfifo(tmp_path / "fifo.png")
    return tmp_path


def test_trace_out_under_a_regular_file(files):
    refused(cli("run", files / "s.yaml", "--trace-out", files / "afile" / "x"), "afile", "not a folder")


def test_trace_out_into_proc(files):
    refused(cli("run", files / "s.yaml", "--trace-out", "/proc/distsim-test"), "/proc")


def test_trace_out_onto_a_fifo(files):
    refused(cli_process("run", files / "s.yaml", "--trace-out", files / "fifo"), "FIFO")
    assert stat.S_ISFIFO(os.stat(files / "fifo").st_mode)


def test_trace_out_with_a_5000_character_name(files):
    refused(cli("run", files / "s.yaml", "--trace-out", files / ("a" * 5000)), "5,000 bytes")


@pytest.mark.parametrize("command", [
    ["plot", "{dir}/s.yaml", "--kind", "links", "-o", "{dir}/afile/x.png"],
    ["report", "{dir}/s.yaml", "-o", "{dir}/afile/x.html"],
    ["schema", "-o", "{dir}/afile/x.json"],
    ["sweep", "{dir}/sweep.yaml", "-j", "1", "-o", "{dir}/afile/x.csv"],
    ["run", "{dir}/s.yaml", "--expect", "{dir}/afile/g.json", "--update-golden"],
    ["tradeoff", "scenarios/exam_remat.yaml", "-o", "{dir}/afile/x.png"],
])
def test_an_output_under_a_regular_file(files, command):
    refused(cli(*[part.format(dir=files) for part in command]), "afile", "not a folder")


@pytest.mark.parametrize("command", [
    ["report", "{dir}/s.yaml", "-o", "{dir}/fifo"],
    ["schema", "-o", "{dir}/fifo"],
    ["plot", "{dir}/s.yaml", "--kind", "links", "-o", "{dir}/fifo.png"],
    ["sweep", "{dir}/sweep.yaml", "-j", "1", "-o", "{dir}/fifo"],  # neither read (it would block) nor replaced
    ["run", "{dir}/s.yaml", "--expect", "{dir}/fifo", "--update-golden"],
])
def test_a_fifo_is_never_replaced_or_read(files, command):
    refused(cli_process(*[part.format(dir=files) for part in command]), "FIFO")
    assert stat.S_ISFIFO(os.stat(files / "fifo").st_mode) and stat.S_ISFIFO(os.stat(files / "fifo.png").st_mode)


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero", "/dev/full"])
def test_devices_are_refused_before_anything_is_written_or_read(device):
    with pytest.raises(InputError, match="character device"):
        check_output(device)
    with pytest.raises(InputError, match="character device"):
        check_input_file(device)


def test_an_output_folder_is_not_a_file_and_the_reverse(tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_output(tmp_path / "f", folder=True)
    with pytest.raises(InputError, match="is a folder"):
        check_output(tmp_path / "d")
    assert check_output(tmp_path / "new" / "deeper" / "x.csv") == tmp_path / "new" / "deeper" / "x.csv"
    assert not (tmp_path / "new").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["d", "f"]


def test_a_reused_trace_folder_holds_only_the_new_run(tmp_path):
    (tmp_path / "two.yaml").write_text(TWO)
    (tmp_path / "one.yaml").write_text(RING)
    out = tmp_path / "out"
    assert cli("run", tmp_path / "two.yaml", "--trace-out", out).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == [".distsim-folder", "all_to_all", "ring_allreduce"]
    assert cli("run", tmp_path / "one.yaml", "--trace-out", out).returncode == 0
    assert not (out / "all_to_all").exists() and not (out / "ring_allreduce").exists()
    assert trace_directories(out) == [out]
    assert cli("run", tmp_path / "two.yaml", "--trace-out", out).returncode == 0  # and back: no stale top-level files
    assert not (out / "messages.csv").exists() and len(trace_directories(out)) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left beside it


def test_a_folder_of_other_files_is_not_replaced(files):
    out = files / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    refused(cli("run", files / "s.yaml", "--trace-out", out), "notes.txt", "did not write")
    assert (out / "notes.txt").read_text() == "my notes"


def test_an_unfinished_trace_folder_is_never_read(tmp_path):
    (tmp_path / "s.yaml").write_text(RING)
    out = tmp_path / "out"
    assert cli("run", tmp_path / "s.yaml", "--trace-out", out).returncode == 0
    # What a killed run leaves: a temporary folder beside the target (and, in older versions, inside it).
    for stale in (tmp_path / ".distsim-abc.tmp", out / ".distsim-def"):
        stale.mkdir()
        for name in ("messages.csv", "ops.csv", "links.csv", "layout.json"):
            (stale / name).write_text("garbage")
    assert trace_directories(out) == [out]
    assert cli("plot", out, "--kind", "links", "-o", tmp_path / "links.png").returncode == 0
    refused(cli("plot", tmp_path / ".distsim-abc.tmp", "--kind", "links", "-o", tmp_path / "x.png"), "unfinished")
    lonely = tmp_path / "lonely"
    (lonely / ".distsim-ghi.tmp").mkdir(parents=True)
    (lonely / ".distsim-ghi.tmp" / "messages.csv").write_text("garbage")
    refused(cli("plot", lonely, "--kind", "links", "-o", tmp_path / "y.png"), "no messages.csv")


def test_an_interrupted_folder_write_leaves_the_old_content(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "messages.csv").write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_directory(out) as tmp:
        (tmp / "messages.csv").write_text("new, half written")
        raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (out / "messages.csv").read_text() == "old"
    with atomic_directory(out) as tmp:
        (tmp / "messages.csv").write_text("new")
    assert (out / "messages.csv").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out"]


def test_two_sweeps_cannot_write_one_csv_at_once(files):
    target = files / "out.csv"
    with exclusive(target):
        refused(cli("sweep", files / "sweep.yaml", "-j", "1", "-o", target), "another distsim process", str(os.getpid()))
        with pytest.raises(InputError, match="another distsim process"), exclusive(target):
            pass
    assert not target.exists() and [p.name for p in files.iterdir() if p.name.startswith(".")] == []
    assert cli("sweep", files / "sweep.yaml", "-j", "1", "-o", target).returncode == 0
    assert len(target.read_text().splitlines()) == 3


def test_writing_where_nothing_can_be_written_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="cannot write"):
        write_text("/proc/distsim-test/x.txt", "x")


def test_a_folder_distsim_wrote_is_replaced_whatever_files_it_holds(tmp_path):
    out = tmp_path / "out"
    with atomic_directory(out) as tmp:
        (tmp / "trace.perfetto-trace").write_bytes(b"a format a later version may add")
    assert (out / ".distsim-folder").is_file()
    with atomic_directory(out) as tmp:
        (tmp / "messages.csv").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [".distsim-folder", "messages.csv"]


def _hidden(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".distsim-") and p.suffix == ".tmp"]


def test_kill_while_writing_a_trace_folder_leaves_nothing_behind(tmp_path):
    (tmp_path / "s.yaml").write_text(scenario_yaml("ring_allreduce", 512, 10**6))  # 523,264 messages to write
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "distsim", "run", str(tmp_path / "s.yaml"), "--trace-out", str(out)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not _hidden(tmp_path) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _hidden(tmp_path), "the run finished before its traces were being written"
    process.terminate()  # SIGTERM, as `kill` sends
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err.strip().splitlines()[-1] == "distsim: interrupted", err
    assert "Traceback" not in err and not out.exists() and not _hidden(tmp_path)
