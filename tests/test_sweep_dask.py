"""The Dask executor: the same sweep on a local Dask cluster gives the same CSV, byte for byte."""

from __future__ import annotations

import pytest

distributed = pytest.importorskip("distributed", reason="the Dask executor needs distsim[dask]")

from click.testing import CliRunner  # noqa: E402

from distsim.cli.main import cli  # noqa: E402
from distsim.errors import InputError  # noqa: E402
from distsim.sweep import run_sweep  # noqa: E402
from distsim.sweep.executors import run_dask, run_serial  # noqa: E402

GRID = """\
cluster:
  workers: 4
  network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}
model: {params: 1e4, dtype: fp32}
strategy: {kind: ring_allreduce}
sweep:
  cluster.workers: [2, 3, 6]
  strategy.kind: [ring_allreduce, parameter_server, all_to_all]
"""


@pytest.fixture(scope="module")
def scheduler():
    """A real Dask cluster on this machine: a scheduler and two worker processes on loopback."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def test_dask_gives_the_same_csv_as_local_processes(tmp_path, scheduler):
    path = tmp_path / "grid.yaml"
    path.write_text(GRID)
    local = run_sweep(path, run_tasks=run_serial).csv()
    on_dask = run_sweep(path, run_tasks=lambda tasks: run_dask(tasks, scheduler))
    assert on_dask.csv() == local
    assert on_dask.computed == 9


def test_cli_runs_a_sweep_on_the_cluster(tmp_path, scheduler):
    path, dask_out, local_out = tmp_path / "grid.yaml", tmp_path / "dask.csv", tmp_path / "local.csv"
    path.write_text(GRID)
    runner = CliRunner()
    result = runner.invoke(cli, ["sweep", str(path), "-o", str(dask_out), "--executor", "dask", "--scheduler", scheduler])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["sweep", str(path), "-o", str(local_out), "--jobs", "2"]).exit_code == 0
    assert dask_out.read_bytes() == local_out.read_bytes()


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(InputError, match="cannot reach a Dask scheduler"):
        list(run_dask([("", "x")], "tcp://127.0.0.1:9", timeout="1s"))  # port 9 (discard): nothing listens there
