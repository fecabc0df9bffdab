"""Sweeps: grid expansion, located errors, the tidy CSV, skipping finished points, determinism."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import distsim
from distsim.cli.main import cli
from distsim.errors import InputError, ScenarioError
from distsim.sweep import expand, run_sweep
from distsim.sweep.executors import executor_for, run_local, run_serial
from distsim.sweep.grid import point_key
from distsim.sweep.table import RESULT_COLUMNS

BASE = """\
cluster:
  workers: 4
  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}
model: {params: 1e4, dtype: fp32}
strategy: {kind: ring_allreduce}
"""
GRID = BASE + """\
sweep:
  cluster.workers: [2, 3, 5]
  strategy.kind: [ring_allreduce, parameter_server, all_to_all]
"""


def write(tmp_path, text: str, name: str = "sweep.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def serial(tasks):
    return run_serial(tasks)


# -- the grid -------------------------------------------------------------------------------


def test_grid_is_the_product_in_the_order_written(tmp_path):
    scenario, where = distsim.load(write(tmp_path, GRID))
    points = expand(scenario, where)
    assert [(p.overrides, p.kind) for p in points] == [
        ((("cluster.workers", n), ("strategy.kind", kind)), kind)
        for n in (2, 3, 5) for kind in ("ring_allreduce", "parameter_server", "all_to_all")
    ]
    for point in points:  # each point is a scenario of its own with the overrides applied
        loaded, _ = distsim.loads(point.text)
        assert loaded.cluster.workers == dict(point.overrides)["cluster.workers"]
        assert [s.kind for s in loaded.strategy] == [point.kind]
        assert loaded.sweep is None


def test_a_base_with_several_strategies_gives_a_point_per_strategy(tmp_path):
    text = BASE.replace("strategy: {kind: ring_allreduce}", "strategy:\n  - {kind: ring_allreduce}\n  - {kind: parameter_server, server: 0}")
    scenario, where = distsim.load(write(tmp_path, text + "sweep: {cluster.workers: [2, 4]}\n"))
    points = expand(scenario, where)
    assert [(dict(p.overrides)["cluster.workers"], p.kind) for p in points] == [
        (2, "ring_allreduce"), (2, "parameter_server"), (4, "ring_allreduce"), (4, "parameter_server")]
    assert distsim.loads(points[1].text)[0].strategy[0].params == {"server": 0}


def test_point_key_ignores_spelling_but_not_content():
    a, _ = distsim.loads(BASE)
    b, _ = distsim.loads(BASE.replace("100 Gbit/s", "12.5e9"))
    c, _ = distsim.loads(BASE.replace("100 Gbit/s", "200 Gbit/s"))
    assert point_key(a) == point_key(b) != point_key(c)


@given(workers=st.lists(st.integers(2, 9), min_size=1, max_size=4, unique=True),
       kinds=st.lists(st.sampled_from(["ring_allreduce", "parameter_server", "all_to_all"]), min_size=1, max_size=3, unique=True))
def test_every_row_counts_what_its_simulation_sent(workers, kinds):
    text = BASE + f"sweep:\n  cluster.workers: {workers}\n  strategy.kind: {kinds}\n"
    scenario, where = distsim.loads(text, "<grid>")
    result = run_sweep((scenario, where), run_tasks=serial)
    assert len(result.rows) == len(workers) * len(kinds)
    for row, (n, kind) in zip(result.rows, [(n, k) for n in workers for k in kinds]):
        assert (row["cluster.workers"], row["strategy"]) == (str(n), kind)
        # the textbook counts, written here independently of distsim's closed forms
        expected = {"ring_allreduce": 2 * n * (n - 1), "parameter_server": 2 * n, "all_to_all": n * (n - 1)}[kind]
        assert int(row["messages"]) == expected
        assert row["counts_ok"] == "true" and row["ok"] == "true"


def test_a_row_agrees_with_running_the_point_directly(tmp_path):
    scenario, where = distsim.load(write(tmp_path, GRID))
    result = run_sweep((scenario, where), run_tasks=serial)
    point = result.points[4]  # workers=3, parameter_server
    (outcome,) = distsim.run(*distsim.loads(point.text))
    row = result.rows[4]
    assert int(row["messages"]) == outcome.trace.message_count
    assert int(row["total_bytes"]) == int(outcome.trace.messages["nbytes"].sum())
    assert float(row["makespan_s"]) == outcome.trace.makespan  # repr round-trips exactly
    assert json.loads(row["message_sizes"]) == {str(k): v for k, v in outcome.reconciliation.simulated["message_bytes"].items()}
    assert row["makespan_model"] == "server link bottleneck" and row["makespan_status"] == "explained"


# -- errors -----------------------------------------------------------------------------------


BAD = BASE.replace("{kind: ring_allreduce}", "{kind: parameter_server, server: 0}") + """\
sweep:
  cluster.workers: [1, 4, -2]
  cluster.wrkers: [3]
  strategy.kind: [parameter_server, ring_allredce]
  model.dtype: [fp32, fp33]
"""


def test_every_bad_sweep_entry_is_reported_at_once_and_located(tmp_path):
    path = write(tmp_path, BAD)
    with pytest.raises(ScenarioError) as caught:
        expand(*distsim.load(path))
    found = {(p.line, p.column, p.dotted_path, p.message.split(":")[0]) for p in caught.value.problems}
    assert (7, 21, "sweep.cluster.workers.0", "value 1") in found  # parameter_server needs two workers
    assert (7, 27, "sweep.cluster.workers.2", "value -2") in found
    assert (8, 3, "sweep.cluster.wrkers", "cannot sweep 'cluster.wrkers'") in found
    assert (9, 37, "sweep.strategy.kind.1", "value ring_allredce") in found
    assert (10, 23, "sweep.model.dtype.1", "value fp33") in found
    messages = "\n".join(p.message for p in caught.value.problems)
    assert "did you mean 'workers'" in messages and "did you mean 'ring_allreduce'" in messages
    assert "did you mean 'fp32'" in messages


@pytest.mark.parametrize("entry, line, message", [
    ("cluster.workers.x: [1]", 7, "cluster.workers is a value (4), not a section"),
    ("clustr.workers: [2]", 7, "'clustr' is not a scenario section (did you mean 'cluster'?)"),
    ("sweep.x: [2]", 7, "is not a scenario section"),
    ("model.params: []", 7, "needs at least one value"),
    ("cluster.network.latency: [1 us, 1 us]", 7, "value 1 us is listed twice"),
    ("cluster..workers: [2]", 7, "is not a dotted field path"),
])
def test_bad_sweep_paths(tmp_path, entry, line, message):
    with pytest.raises(ScenarioError) as caught:
        expand(*distsim.load(write(tmp_path, BASE + f"sweep:\n  {entry}\n")))
    (problem,) = caught.value.problems
    assert problem.line == line and message in problem.message


def test_a_sweep_of_a_scenario_that_extends_another(tmp_path):
    write(tmp_path, BASE.replace("{kind: ring_allreduce}", "{kind: parameter_server, server: 0}"), "base.yaml")
    child = write(tmp_path, "extends: base.yaml\nmodel: {params: 2e4}\nsweep: {cluster.workers: [2, 3]}\n", "child.yaml")
    result = run_sweep(child, run_tasks=serial)
    assert [(r["workers"], r["params"], r["server"], r["messages"]) for r in result.rows] == [
        ("2", "20000", "0", "2"), ("3", "20000", "0", "4")]  # the server shares worker 0's node: 2(n-1) messages
    # a problem that a point exposes in an inherited key is reported in the file that wrote it
    write(tmp_path, "extends: base.yaml\nsweep: {strategy.kind: [parameter_server, ring_allreduce]}\n", "child.yaml")
    with pytest.raises(ScenarioError) as caught:
        expand(*distsim.load(child))
    (problem,) = caught.value.problems
    assert problem.file.endswith("base.yaml") and problem.line == 5 and problem.dotted_path == "strategy.server"
    assert problem.message.startswith("at sweep point strategy.kind=ring_allreduce: unknown key 'server'")


def test_a_scenario_without_a_sweep_block_is_an_error(tmp_path):
    with pytest.raises(ScenarioError, match="no 'sweep:' block"):
        expand(*distsim.load(write(tmp_path, BASE)))


def test_cli_reports_errors_with_exit_2_and_writes_nothing(tmp_path):
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["sweep", str(write(tmp_path, BAD)), "-o", str(out)], standalone_mode=False, catch_exceptions=True)
    assert isinstance(result.exception, ScenarioError) and result.exception.exit_code == 2
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "sweep.yaml"]


def test_a_point_that_cannot_finish_is_an_error_row(tmp_path):
    text = BASE + "sweep: {cluster.gpu.memory: [1 kB, 80 GiB]}\n"
    result = run_sweep(distsim.load(write(tmp_path, text)), run_tasks=serial)
    oom, fine = result.rows
    assert oom["ok"] == "false" and "out of memory on w0" in oom["error"] and oom["messages"] == ""
    assert fine["ok"] == "true" and fine["error"] == ""
    assert result.errors == [oom] and result.failed == []


# -- the CSV on disk: skipping, forcing, resuming ------------------------------------------------


def test_points_already_in_the_csv_are_not_run_again(tmp_path):
    path, out = write(tmp_path, GRID), tmp_path / "r.csv"
    first = run_sweep(path, out, run_tasks=serial)
    assert (first.computed, first.reused) == (9, 0)
    text = out.read_text()
    again = run_sweep(path, out, run_tasks=serial)
    assert (again.computed, again.reused) == (0, 9) and out.read_text() == text
    forced = run_sweep(path, out, force=True, run_tasks=serial)
    assert (forced.computed, forced.reused) == (9, 0) and out.read_text() == text
    # one more value: only its three points run, and the file keeps grid order
    grown = run_sweep(write(tmp_path, GRID.replace("[2, 3, 5]", "[2, 3, 4, 5]")), out, run_tasks=serial)
    assert (grown.computed, grown.reused) == (3, 9)
    assert [r["cluster.workers"] for r in rows_of(out.read_text())] == ["2"] * 3 + ["3"] * 3 + ["4"] * 3 + ["5"] * 3
    # a change to the base scenario changes every key: nothing is reused
    changed = run_sweep(write(tmp_path, GRID.replace("5 us", "6 us")), out, run_tasks=serial)
    assert (changed.computed, changed.reused) == (9, 0)


def test_an_interrupted_sweep_keeps_finished_points_and_resumes(tmp_path):
    path, out = write(tmp_path, GRID), tmp_path / "r.csv"

    def interrupted(tasks):
        for done, item in enumerate(run_serial(tasks)):
            if done == 4:
                raise KeyboardInterrupt
            yield item

    with pytest.raises(KeyboardInterrupt):
        run_sweep(path, out, run_tasks=interrupted)
    assert len(rows_of(out.read_text())) == 4
    resumed = run_sweep(path, out, run_tasks=serial)
    assert (resumed.computed, resumed.reused) == (5, 4)
    assert out.read_text() == run_sweep(path, run_tasks=serial).csv()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_file_that_is_not_a_sweep_csv_is_not_overwritten(tmp_path):
    out = tmp_path / "notes.csv"
    out.write_text("name,value\na,1\n")
    with pytest.raises(InputError, match="not a distsim sweep CSV"):
        run_sweep(write(tmp_path, GRID), out, run_tasks=serial)
    assert out.read_text() == "name,value\na,1\n"
    run_sweep(write(tmp_path, GRID), out, force=True, run_tasks=serial)
    assert len(rows_of(out.read_text())) == 9


def test_columns_are_the_key_the_swept_paths_and_the_results(tmp_path):
    result = run_sweep(write(tmp_path, GRID), run_tasks=serial)
    assert result.columns == ["point_key", "cluster.workers", "strategy.kind", *RESULT_COLUMNS]
    assert list(rows_of(result.csv())[0]) == result.columns
    assert "wall" not in ",".join(result.columns)  # nothing that differs between two runs


# -- executors ----------------------------------------------------------------------------------------


def test_results_do_not_depend_on_the_number_of_jobs(tmp_path):
    path = write(tmp_path, GRID)
    one = run_sweep(path, run_tasks=serial).csv()
    two = run_sweep(path, run_tasks=lambda tasks: run_local(tasks, 2)).csv()
    assert one == two


def test_executor_options_are_checked():
    with pytest.raises(InputError, match="needs --scheduler"):
        executor_for("dask")
    with pytest.raises(InputError, match="only used with --executor dask"):
        executor_for("local", scheduler="tcp://127.0.0.1:1")


# -- the command ------------------------------------------------------------------------------------


def test_cli_writes_the_csv_and_a_summary(tmp_path):
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(cli, ["sweep", str(write(tmp_path, GRID)), "-o", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "9 points (9 run, 0 already in the CSV): 9 ok, 0 failed, 0 could not finish" in result.output
    assert len(rows_of(out.read_text())) == 9


def test_cli_without_output_prints_only_the_csv_when_piped(tmp_path):
    result = CliRunner().invoke(cli, ["sweep", str(write(tmp_path, GRID)), "-j", "1"])
    assert result.exit_code == 0
    assert result.stderr == ""  # no progress bar, no summary: the pipe gets data only
    assert len(rows_of(result.stdout)) == 9


def test_cli_exit_code_3_when_a_point_cannot_finish(tmp_path):
    path = write(tmp_path, BASE + "sweep: {cluster.gpu.memory: [1 kB, 80 GiB]}\n")
    result = CliRunner().invoke(cli, ["sweep", str(path), "-o", str(tmp_path / "r.csv"), "-j", "1"], standalone_mode=False)
    assert result.return_value == 3
    assert "1 could not finish" in result.output and "out of memory" in result.output


# -- progress ------------------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_on_a_terminal_and_nothing_in_a_pipe():
    from distsim.cli.progress import Progress

    screen, pipe = Terminal(), io.StringIO()
    for stream in (screen, pipe):
        with Progress("sweep", stream=stream) as progress:
            for done in range(1, 5):
                progress(done, 4)
    assert "sweep" in screen.getvalue() and "4/4" in screen.getvalue()
    assert pipe.getvalue() == ""


# -- the benchmark's sweep (its timings live in `distsim bench --suite sweep`, not here) -------------------------


def test_the_benchmark_sweep_has_100_valid_points():
    from distsim.bench.sweep import scenario_text

    scenario, where = distsim.loads(scenario_text(100), "<bench>")
    points = expand(scenario, where)
    assert len(points) == 100 and len({p.key for p in points}) == 100


def test_the_benchmark_row_is_ratios_of_medians():
    from distsim.bench.sweep import _row, sweep_table

    runs = {
        "serial": [{"wall_s": w, "csv_sha256": "a", "ok": True} for w in (4.0, 5.0, 6.0)],
        "local": [{"wall_s": w, "csv_sha256": "a", "ok": True} for w in (2.0, 2.5, 4.0)],
        "dask": [{"wall_s": w, "csv_sha256": "a", "ok": True, "cluster_start_s": 1.0} for w in (3.0, 3.5, 9.0)],
    }
    row = _row(100, runs)
    assert row["speedup_2_over_1"] == 5.0 / 2.5
    assert row["dask_overhead_per_point_s"] == pytest.approx((3.5 - 2.5) / 100)
    assert row["identical_csv"] and row["all_ok"]
    assert "speed-up 2.00x" in sweep_table([row])
    runs["dask"][0]["csv_sha256"] = "b"
    assert not _row(100, runs)["identical_csv"]


@pytest.mark.parametrize("command", ["sweep", "plot", "report"])
def test_my_commands_explain_themselves(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Usage: " in result.output and len(result.output.splitlines()) > 8
