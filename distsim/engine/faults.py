"""A strategy's bugs, caught where they happen and located in the strategy's own code.

Strategies, plugins above all, are code distsim does not control. When one goes
wrong the user needs to know which strategy, which rank and which line, in one
line and without a traceback (issue 10). The engine catches each kind of bug where
it shows: an exception in a rank's program or a yield of something that is not an
event (``engine/process.py``), a send to a rank that does not exist (where the
channel is opened), an op of NaN, infinite or negative seconds, memory released
that was never held, and livelocks: zero-duration ops, or resumes on events that
have already happened, without end at one simulated instant (``engine/context.py``).
The runner calls a strategy's hooks (``programs``, ``expected``, ``schedule``)
through :func:`call` and :func:`programs`, which check what they return.

The location is the deepest frame of the traceback that lies in the strategy's
own package (its top-level package, minus ``distsim.engine``): the plugin's line,
not numpy's or the engine's.
"""

from __future__ import annotations

import operator
import os
from types import CodeType, TracebackType

from distsim.errors import DistsimError, StrategyBug

# Zero-duration ops (or resumes on finished events) in a row at one instant before a rank is
# called livelocked. Legitimate runs stay far below it (a schedule's frees between two timed
# ops); an executor that knows its op count may raise its own limit (Context.zero_time_ops).
# Every livelocked rank spins up to it before one is stopped: ~0.3 s per rank at 100,000.
ZERO_TIME_LIMIT = 100_000
MESSAGE_CHARS = 300  # a plugin's exception text, cut to this many characters (one line)


def located(error: BaseException, package: str, rank: str | None = None, during: str | None = None) -> StrategyBug:
    """A StrategyBug for ``error``, raised by the code of ``package`` (a module name)."""
    return StrategyBug(exception_text(error), rank, where_in(error.__traceback__, package), during)


def fill(bug: StrategyBug, rank: str | None, package: str) -> StrategyBug:
    """Complete a StrategyBug raised by the engine on a rank's behalf with the rank and the strategy's line."""
    bug.rank = bug.rank or rank
    bug.where = bug.where or where_in(bug.__traceback__, package)
    return bug


def exception_text(error: BaseException) -> str:
    """'ValueError: boom' on one line, cut to MESSAGE_CHARS."""
    text = " ".join(str(error).split())
    if len(text) > MESSAGE_CHARS:
        text = text[: MESSAGE_CHARS - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def where_in(tb: TracebackType | None, package: str) -> str | None:
    """'file:line' of the deepest frame of ``tb`` in the strategy's code, or None."""
    found = None
    while tb is not None:
        if _is_strategy_code(tb.tb_frame.f_globals.get("__name__", ""), package):
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return f"{show_path(found[0])}:{found[1]}" if found else None


def _is_strategy_code(module: str, package: str) -> bool:
    top = package.split(".")[0]
    if not top or module.startswith("distsim.engine"):
        return False
    return module == top or module.startswith(top + ".")


def code_location(code: CodeType | object) -> str:
    """'file:line' where a function (or a code object) is defined."""
    code = getattr(getattr(code, "__func__", code), "__code__", code)
    return f"{show_path(code.co_filename)}:{code.co_firstlineno}"


def suspended_at(generator) -> str | None:
    """'file:line' where a generator is paused (at a yield), or None if it is not paused."""
    frame = getattr(generator, "gi_frame", None)
    return f"{show_path(frame.f_code.co_filename)}:{frame.f_lineno}" if frame is not None else None


def show_path(filename: str) -> str:
    """A source file's name relative to the working directory when it lies below it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        return filename
    return filename if relative.startswith("..") else relative


def describe(value) -> str:
    """A short description of a value a strategy handed over: '42 (of type int)', 'None'."""
    if value is None:
        return "None"
    if isinstance(value, (bool, int, float, str)) and len(repr(value)) <= 40:
        return f"{value!r} (of type {type(value).__name__})"
    return f"an object of type {type(value).__name__}"


def is_generator(program) -> bool:
    """What SimPy can run as a process: something with ``send`` and ``throw``."""
    return hasattr(program, "send") and hasattr(program, "throw")


def check_ranks(src, dst, count: int) -> None:
    """A channel's ends must be ranks of this world (a negative rank would wrap around in Python)."""
    for rank, verb in ((dst, "send to"), (src, "receive from")):
        try:
            valid = 0 <= operator.index(rank) < count
        except TypeError:
            valid = False
        if not valid:
            raise StrategyBug(f"{verb} rank {rank!r}, which does not exist (ranks 0..{count - 1})")


def call(function, during: str, *args):
    """Call a strategy's hook; an exception in it becomes a StrategyBug located in the hook's code."""
    try:
        return function(*args)
    except StrategyBug as bug:
        bug.during = bug.during or during
        raise fill(bug, None, function.__module__)
    except DistsimError:
        raise
    except Exception as error:
        raise located(error, function.__module__, during=during) from error


def programs(strategy, job, names: list[str]) -> dict[int, object]:
    """rank -> program from ``strategy.programs(job)``: every item a (rank, generator) pair, one per rank."""
    hook = strategy.programs
    items = call(hook, "programs()", job)
    where = code_location(hook)
    if items is None or not hasattr(items, "__iter__"):
        raise StrategyBug(f"programs() returned {describe(items)}; it must yield (rank, generator) pairs", where=where)
    iterator, found = iter(items), {}
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return found
        except DistsimError:
            raise
        except Exception as error:
            raise located(error, hook.__module__, during="programs()") from error
        found.update([_program(item, names, found, suspended_at(iterator) or where)])


def _program(item, names: list[str], found: dict, where: str) -> tuple[int, object]:
    if not (isinstance(item, tuple) and len(item) == 2):
        raise StrategyBug(f"programs() gave {describe(item)}, not a (rank, generator) pair", where=where)
    rank, program = item
    try:
        valid = 0 <= operator.index(rank) < len(names)
    except TypeError:
        valid = False
    if not valid:
        raise StrategyBug(f"programs() gave a program to rank {rank!r}, which does not exist (ranks 0..{len(names) - 1})",
                          where=where)
    if not is_generator(program):
        raise StrategyBug(f"programs() gave rank {names[rank]} {describe(program)}, not a generator "
                          "(a rank's program is written with yield)", where=where)
    if rank in found:
        raise StrategyBug(f"programs() gave rank {names[rank]} a second program", where=where)
    return rank, program


def check_expected(value, workers: int, size: int, hook) -> None:
    """What ``expected()`` computes must be a tensor of ``size`` elements, or a list with one
    tensor (or None: no result) per worker."""
    if isinstance(value, list):
        if len(value) == workers and all(v is None or hasattr(v, "size") for v in value):
            return
        problem = f"returned a list of {len(value)} items, not one tensor (or None) for each of the {workers} workers"
    elif getattr(value, "size", None) == size:
        return
    else:
        problem = f"returned {describe(value)}, not a tensor of {size:,} elements"
    raise StrategyBug(problem, where=code_location(hook), during="expected()")


def check_returns(results: dict, programs_by_rank: dict, sizes: list, names: list[str]) -> None:
    """Every worker's program must end by returning its final tensor: ``sizes[rank]`` elements
    (-1: whatever it holds, a tensor or nothing; None: nothing, the worker holds no result)."""
    for rank, size in enumerate(sizes):
        program = programs_by_rank.get(rank)
        if program is None:
            continue
        value = results.get(rank)
        if size is None or size < 0 and (value is None or hasattr(value, "size")) or getattr(value, "size", None) == size:
            continue
        wanted = "a tensor or None" if size < 0 else f"its final tensor of {size:,} elements"
        raise StrategyBug(f"the program returned {describe(value)}, not {wanted}",
                          names[rank], code_location(program.gi_code) if hasattr(program, "gi_code") else None)
