"""The distsim command: help, output shapes, exit codes, trace files, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import scenario_yaml
from distsim.cli.main import cli
from distsim.fileio import MARKER

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str):
    """Run through main() semantics (exit codes, error lines) in-process."""
    from distsim.cli import main as cli_main

    runner = CliRunner()
    return runner.invoke(cli_main.main, list(args), catch_exceptions=False) if False else _run_main(list(args))


def _run_main(args):
    result = subprocess.run([sys.executable, "-m", "distsim", *args], capture_output=True, text=True, cwd=ROOT)
    return result


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("command", [[], ["run"], ["strategies"], ["validate"], ["bench"]])
def test_every_command_explains_itself(command):
    result = CliRunner().invoke(cli, command + ["--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output and len(result.output.splitlines()) > 3


def test_run_json_has_the_documented_keys(tmp_path):
    path = write(tmp_path, scenario_yaml("ring_allreduce", 4, 400))
    result = _run_main(["run", str(path), "--json"])
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    for key in ("strategy", "workers", "messages", "message_bytes", "total_bytes", "makespan_s", "expected", "checks", "ok"):
        assert key in body
    assert body["messages"] == 24 and body["message_bytes"] == {"400": 24}
    assert body["expected"]["messages"] == 24
    assert all({"name", "expected", "simulated", "ok"} <= set(check) for check in body["checks"])
    assert body["ok"] is True


def test_main_job_prints_the_exam_table():
    result = _run_main(["run", "scenarios/exam_distributed.yaml"])
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("summary (from the simulated traces)")[1]
    rows = {line.split()[0]: line.split() for line in table.splitlines() if line[:1].isalpha() and not line.startswith("strategy")}
    assert rows["all_to_all"][1:3] == ["56", "n(n-1)"] and rows["all_to_all"][3] == "1,000,000"
    assert rows["parameter_server"][1:3] == ["16", "2n"] and rows["parameter_server"][3] == "1,000,000"
    assert rows["ring_allreduce"][1:3] == ["112", "2n(n-1)"] and rows["ring_allreduce"][3] == "125,000"


def test_trace_out_writes_csv_and_a_chrome_trace(tmp_path):
    path = write(tmp_path, scenario_yaml("parameter_server", 3, 100))
    out = tmp_path / "trace"
    result = _run_main(["run", str(path), "--trace-out", str(out)])
    assert result.returncode == 0, result.stderr
    assert (out / "messages.csv").read_text().count("\n") == 1 + 6
    chrome = json.loads((out / "trace.json").read_text())
    names = {e["args"]["name"] for e in chrome["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"w0", "w1", "w2", "ps", "switch->ps", "ps->switch"} <= names
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != MARKER]  # no temporary files left


@pytest.mark.parametrize(
    "text, where",
    [
        (scenario_yaml("ring_allreduce", 1, 100), ":2:"),  # n < 2
        (scenario_yaml("ring_alreduce", 4, 100), "did you mean 'ring_allreduce'"),
        (scenario_yaml("ring_allreduce", 4, 100, topology="torus"), "cluster.network.topology"),
        (scenario_yaml("ring_allreduce", 4, 100, bandwidth="0 Gbit/s"), "cluster.network.bandwidth"),
        (scenario_yaml("ring_allreduce", 4, 100, bandwidth="-3 GB/s"), "greater than 0"),
        (scenario_yaml("ring_allreduce", 4, 100, latency="5 parsecs"), "unknown unit 'parsecs'"),
        (scenario_yaml("ring_allreduce", 4, 100).replace("workers: 4", "workers: four"), "cluster.workers"),
        (scenario_yaml("ring_allreduce", 4, 100).replace("model:", "modle:"), "did you mean 'model'"),
        (scenario_yaml("ring_allreduce", 4, 100).replace("bandwidth", "bandwith"), "did you mean 'bandwidth'"),
        (scenario_yaml("parameter_server", 4, 100, extra="server: 9"), "worker 9 does not exist"),
        (scenario_yaml("parameter_server", 4, 100, extra="lr: -1"), "strategy.lr"),
        ("cluster: [", "invalid YAML"),
        ("!!python/object/apply:os.system ['echo hi']", "cannot use this value"),
    ],
)
def test_bad_input_is_one_located_line_with_exit_code_2(tmp_path, text, where):
    path = write(tmp_path, text, "bad.yaml")
    out = tmp_path / "out"
    result = _run_main(["run", str(path), "--trace-out", str(out)])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith(f"distsim: error: {path}") for line in lines)
    assert where in result.stderr
    assert not out.exists()


def test_missing_file_is_bad_input():
    result = _run_main(["run", "no/such/file.yaml"])
    assert result.returncode == 2 and "cannot read file" in result.stderr and "Traceback" not in result.stderr


def test_out_of_memory_ends_with_exit_code_3_and_says_where(tmp_path):
    text = scenario_yaml("ring_allreduce", 4, 1_000_000).replace("cluster:\n", "cluster:\n  gpu: {memory: 1 MB}\n")
    result = _run_main(["run", str(write(tmp_path, text))])
    assert result.returncode == 3
    assert "out of memory on w0" in result.stderr and "Traceback" not in result.stderr


def test_strategies_lists_the_registry():
    result = CliRunner().invoke(cli, ["strategies"])
    assert result.exit_code == 0
    for name in ("all_to_all", "parameter_server", "ring_allreduce"):
        assert name in result.output


def test_python_dash_m_is_the_same_command():
    assert _run_main(["--version"]).stdout.startswith("distsim, version")


def test_live_status_reports_progress_on_a_terminal_and_nothing_otherwise():
    import io
    import time

    from distsim.cli.progress import LiveStatus

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    class World:
        def progress(self):
            return 0.25, 1234, 5

    screen = Terminal()
    with LiveStatus(screen, interval=0.01) as status:
        status(World())
        time.sleep(0.1)
    assert "simulated 250 ms: 1,234 messages, 5 ops" in screen.getvalue()
    assert screen.getvalue().endswith("\r\033[K")  # the line is cleared at the end

    piped = io.StringIO()
    with LiveStatus(piped, interval=0.01) as status:
        status(World())
        time.sleep(0.05)
    assert piped.getvalue() == ""
