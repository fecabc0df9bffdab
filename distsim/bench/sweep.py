"""The sweep suite: a 100-point sweep on 1 core, on 2 local processes, and on a 2-worker Dask cluster.

``distsim bench --suite sweep`` reports the speed-up of 2 local processes over 1
(the same sweep, measured in the same run, alternating) and the Dask executor's
overhead per point over the local pool. Each measurement runs in a fresh child
process (``python -m distsim.bench.sweep MODE POINTS``), which times only the
sweep itself: interpreter start-up, and the Dask cluster's start-up (reported
separately), are left out. Every measurement also returns its CSV's hash, so
the table shows that the executors agreed, byte for byte.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import statistics
import sys
import time
from collections.abc import Callable

from distsim.bench.measure import in_child, report

MODES = ("serial", "local", "dask")
WORKERS = (16, 32, 48, 64, 80, 96, 112, 128, 144, 160)
PARAMS = ("1e5", "2e5", "5e5", "1e6", "2e6", "5e6", "1e7", "2e7", "5e7", "1e8")


def scenario_text(points: int = 100) -> str:
    """A sweep of ``points`` small ring all-reduces (16 to 160 workers x gradient sizes; phantom payloads,
    so a point costs its messages, 30 ms on average: enough work that the executor is what is measured)."""
    side = max(1, math.isqrt(points))
    workers = list(WORKERS[:side]) if side <= len(WORKERS) else list(range(16, 16 * side + 1, 16))
    params = list(PARAMS[: math.ceil(points / len(workers))])
    return (
        "cluster: {workers: 8, network: {topology: switch, bandwidth: 100 Gbit/s, latency: 5 us}}\n"
        "model: {params: 1e6, dtype: fp32}\nstrategy: {kind: ring_allreduce}\nrun: {verify_payload: false}\n"
        f"sweep:\n  cluster.workers: {workers}\n  model.params: [{', '.join(params)}]\n"
    )


def sweep_suite(repeat: int = 3, progress: Callable[[str], None] | None = None, points: int = 100, **_) -> list[dict]:
    """Serial and 2-process runs alternate ``repeat`` times; then the Dask runs."""
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for i in range(repeat):
        for mode in ("serial", "local"):
            if progress:
                progress(f"sweep: {mode}, repetition {i + 1}/{repeat}")
            runs[mode].append(in_child(__name__, mode, points))
    for i in range(repeat if importlib.util.find_spec("distributed") else 0):
        if progress:
            progress(f"sweep: dask, repetition {i + 1}/{repeat}")
        runs["dask"].append(in_child(__name__, "dask", points))
    return [_row(points, runs)]


def _row(points: int, runs: dict[str, list[dict]]) -> dict:
    """Medians, and ratios of medians; Dask figures are None when distributed is not installed."""
    wall = {mode: statistics.median(r["wall_s"] for r in runs[mode]) if runs[mode] else None for mode in MODES}
    dask = runs["dask"]
    hashes = {r["csv_sha256"] for mode in MODES for r in runs[mode]}
    return {
        "suite": "sweep",
        "points": points,
        "repeat": len(runs["serial"]),
        "serial_wall_s": wall["serial"],
        "local2_wall_s": wall["local"],
        "speedup_2_over_1": wall["serial"] / wall["local"],
        "speedup_per_repetition": [s["wall_s"] / p["wall_s"] for s, p in zip(runs["serial"], runs["local"])],
        "dask_wall_s": wall["dask"],
        "dask_overhead_per_point_s": (wall["dask"] - wall["local"]) / points if dask else None,
        "dask_cluster_start_s": statistics.median(r["cluster_start_s"] for r in dask) if dask else None,
        "identical_csv": len(hashes) == 1,
        "all_ok": all(r["ok"] for mode in MODES for r in runs[mode]),
    }


def sweep_table(rows: list[dict]) -> str:
    """The suite's figures as text."""
    from distsim.fmt import fmt_time

    lines = []
    for r in rows:
        per = ", ".join(f"{s:.2f}x" for s in r["speedup_per_repetition"])
        lines += [
            f"{r['points']}-point sweep (small ring all-reduces), medians of {r['repeat']} repetitions:",
            f"  1 process (serial)        {fmt_time(r['serial_wall_s'])}",
            f"  2 local processes         {fmt_time(r['local2_wall_s'])}   speed-up {r['speedup_2_over_1']:.2f}x  (per repetition: {per})",
            f"  Dask, 2 worker processes  {fmt_time(r['dask_wall_s'])}   overhead over the local pool "
            f"{fmt_time(r['dask_overhead_per_point_s'])} per point (cluster start-up and warm-up "
            f"{fmt_time(r['dask_cluster_start_s'])}, not included)" if r["dask_wall_s"] is not None
            else "  Dask: not measured (pip install 'distsim[dask]')",
            f"  identical CSV from every executor: {'yes' if r['identical_csv'] else 'NO'}; every point ok: {'yes' if r['all_ok'] else 'NO'}",
        ]
    return "\n".join(lines)


def _timed_sweep(run_tasks, points: int) -> dict:
    import distsim
    from distsim.sweep import run_sweep

    scenario, where = distsim.loads(scenario_text(points), "<bench sweep>")
    start = time.perf_counter()
    result = run_sweep((scenario, where), run_tasks=run_tasks)
    wall = time.perf_counter() - start
    text = result.csv()
    return {"wall_s": wall, "points": len(result.rows), "ok": not result.failed and not result.errors,
            "csv_sha256": hashlib.sha256(text.encode()).hexdigest()}


def main() -> None:
    mode, points = sys.argv[1], int(sys.argv[2])
    from distsim.sweep.executors import run_dask, run_local, run_serial

    if mode == "serial":
        row = _timed_sweep(run_serial, points)
    elif mode == "local":
        row = _timed_sweep(lambda tasks: run_local(tasks, 2), points)
    else:
        from distributed import LocalCluster

        start = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0") as cluster:
            address = cluster.scheduler_address
            _timed_sweep(lambda tasks: run_dask(tasks, address), 4)  # workers import distsim before the clock starts
            started = time.perf_counter() - start
            row = _timed_sweep(lambda tasks: run_dask(tasks, address), points)
        row["cluster_start_s"] = started
    report({"mode": mode, **row})


if __name__ == "__main__":
    main()
