"""Where sweep points run: this process, a pool of local processes, or an existing Dask cluster.

Every executor runs the same task, :func:`distsim.sweep.point.run_point`, on the
same text, and reports ``(task index, row)`` as tasks finish; the caller puts rows
back in grid order. So the results never depend on the executor, the number of
jobs or the order in which points finish.

Processes, not threads: a point is pure-Python simulation, so threads would share
one interpreter lock and gain nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

from distsim.errors import InputError
from distsim.sweep.point import run_point

Task = tuple[str, str]  # (scenario text, name)
DASK_CONNECT_TIMEOUT = "10s"


def local_jobs(jobs: int | None) -> int:
    """``jobs``, or every core this process may use."""
    if jobs:
        return jobs
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def run_serial(tasks: list[Task]) -> Iterator[tuple[int, dict]]:
    """One after another in this process (``--jobs 1``): no start-up cost, easiest to debug."""
    for index, (text, name) in enumerate(tasks):
        yield index, run_point(text, name)


def run_local(tasks: list[Task], jobs: int) -> Iterator[tuple[int, dict]]:
    """On ``jobs`` local processes; serial when one job (or one task) is all there is."""
    jobs = min(jobs, len(tasks))
    if jobs <= 1:
        yield from run_serial(tasks)
        return
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_start_method()) as pool:
        futures = {pool.submit(run_point, text, name): index for index, (text, name) in enumerate(tasks)}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _start_method():
    """Fork when this process has no other thread (cheapest: workers inherit the imported
    modules); otherwise forkserver, because forking a threaded process can deadlock."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["distsim.sweep.point"])
        return context
    return multiprocessing.get_context("spawn")


def run_dask(tasks: list[Task], scheduler: str, timeout: str = DASK_CONNECT_TIMEOUT) -> Iterator[tuple[int, dict]]:
    """On the workers of an existing Dask distributed cluster (``pip install 'distsim[dask]'``).

    The workers need distsim installed, at the same version, as for any Dask task.
    """
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise InputError("--executor dask needs Dask distributed: pip install 'distsim[dask]'") from None
    try:
        client = Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({exc})") from None
    with client:
        if not tasks:
            return
        texts, names = zip(*tasks)
        futures = client.map(run_point, texts, names, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in dask_completed(futures, loop=client.loop):
                yield index[future.key], future.result()
        finally:
            client.cancel(futures)


EXECUTORS = ("local", "dask")


def executor_for(kind: str, jobs: int | None = None, scheduler: str | None = None):
    """A function ``tasks -> iterator of (index, row)`` for the chosen executor."""
    if kind == "local":
        if scheduler:
            raise InputError("--scheduler is only used with --executor dask")
        count = local_jobs(jobs)
        return lambda tasks: run_local(tasks, count)
    if kind == "dask":
        if not scheduler:
            raise InputError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        return lambda tasks: run_dask(tasks, scheduler)
    raise InputError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTORS)}")
