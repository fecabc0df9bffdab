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
import signal
import socket
import threading
from collections.abc import Iterator

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
    """On ``jobs`` local processes; serial when one job (or one task) is all there is.

    Ctrl-C is the parent's alone: the workers ignore SIGINT (it reaches the whole
    process group), so they print no tracebacks; the parent stops them and reports
    one "interrupted" line.
    """
    jobs = min(jobs, len(tasks))
    if jobs <= 1:
        yield from run_serial(tasks)
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # until the workers ignore it
    try:
        pool = _start_method().Pool(jobs, initializer=_ignore_interrupts)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    try:
        yield from pool.imap_unordered(_run_indexed, list(enumerate(tasks)))
        pool.close()
    except BaseException:
        pool.terminate()  # interrupted, or a task failed: running points are stopped, not waited for
        raise
    finally:
        pool.join()


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # Pool.terminate stops a worker with SIGTERM: quietly
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _run_indexed(task: tuple[int, Task]) -> tuple[int, dict]:
    index, (text, name) = task
    return index, run_point(text, name)


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
    _check_reachable(scheduler)
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


def check_scheduler_address(address: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a Dask scheduler address; InputError at once when it is malformed.

    Why here: the Dask client stalls for its whole timeout (and then prints a
    traceback when it is collected) on an address it cannot even parse.
    """
    try:
        from distributed.comm import registry
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError:
        raise InputError("--executor dask needs Dask distributed: pip install 'distsim[dask]'") from None
    example = "such as tcp://scheduler-host:8786"
    try:
        scheme, location = parse_address(address.strip())
        if scheme not in registry.backends:
            raise ValueError(f"unknown protocol {scheme!r}; known: {', '.join(sorted(registry.backends))}")
        if scheme == "inproc":
            return scheme, location, None
        host, port = parse_host_port(location)
        if not host or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT with a port from 1 to 65535")
    except (ValueError, TypeError) as exc:
        raise InputError(f"--scheduler {address!r}: not a Dask scheduler address ({exc}), {example}") from None
    return scheme, host, int(port)


def _check_reachable(address: str, seconds: float = 5.0) -> None:
    """Fail at once, without a Dask client (whose clean-up stalls), when nothing listens at a TCP address."""
    scheme, host, port = check_scheduler_address(address)
    if scheme not in ("tcp", "tls", "ws", "wss"):
        return
    try:
        socket.create_connection((host, port), timeout=seconds).close()
    except OSError as exc:
        raise InputError(f"--scheduler {address}: cannot reach a Dask scheduler there ({exc.strerror or exc})") from None


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
        check_scheduler_address(scheduler)
        return lambda tasks: run_dask(tasks, scheduler)
    raise InputError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTORS)}")
