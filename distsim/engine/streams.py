"""Streams: a rank's device runs more than one sequence of work at a time.

A GPU computes on one CUDA stream while NCCL moves gradients on another, and the
two overlap; that is how a data-parallel step hides its all-reduces behind the
backward pass (issue 9). ``ctx.stream(program, name)`` runs ``program`` (a
generator, written like any rank program) as a SimPy process of its own, beside
the rank's program, and returns that process: ``yield`` it to wait until the work
is done. Every op the program records carries its stream in the op table's
``stream`` column (0 is the rank's own program, "compute"; 1 is "comm"), so a
timeline can draw the two side by side.

Work given to one stream runs in the order given, one piece after another, as
kernels queue on one CUDA stream. This is not only realism: messages between two
ranks share one FIFO channel per pair, whichever stream sends them, so two
collectives in flight at once between the same ranks would take each other's
messages. Queuing a rank's collectives on its one communication stream, in issue
order, keeps them apart, as NCCL does by running a communicator's collectives in
order.

A stream's program is a rank program in every other way: its bugs stop the run
located in its own code, a stream that can never finish is reported as a deadlock
of its rank, and a rank is done when its program and every stream are done.
"""

from __future__ import annotations

from distsim.engine import faults
from distsim.engine.process import RankProcess
from distsim.errors import StrategyBug

MAIN = "compute"  # the rank's own program: stream 0


def start(ctx, program, name: str):
    """Queue ``program`` on stream ``name`` of ``ctx``'s rank; the process that runs it (yield it to wait)."""
    if not isinstance(name, str) or not name or name == MAIN:
        raise StrategyBug(f"starts a stream named {faults.describe(name)}; name it ('comm', ...): "
                          f"{MAIN!r} is the rank's own program")
    if not faults.is_generator(program):
        raise StrategyBug(f"gives stream {name!r} {faults.describe(program)}, not a generator "
                          "(a stream's program is written with yield)")
    world = ctx.world
    code = world.trace.code(world.trace.streams, name)
    previous = ctx._streams.get(name)
    work = program if previous is None or not previous.is_alive else _after(previous, program)
    process = RankProcess(ctx.env, work, ctx.name, stream=code, code_of=program)
    ctx._streams[name] = process
    finished = world._finished  # rank -> when it finished: its program, or its last stream if later
    rank, env = ctx.rank, ctx.env
    process.callbacks.append(lambda _event: finished.__setitem__(rank, max(finished.get(rank, 0.0), env._now)))
    return process


def _after(previous, program):
    """``program``, once the work queued before it on the same stream is done."""
    if previous.is_alive:
        yield previous
    return (yield from program)


def busy(ctx) -> list[str]:
    """The streams of ``ctx``'s rank that still have work (after a run: work that can never finish)."""
    return [name for name, process in ctx._streams.items() if process.is_alive]
