"""A rematerialization schedule is data: the list of ops one worker runs for one training step.

The layer chain has activations a_0 (the input) .. a_L (the output of layer L).
``fwd i`` computes a_i from a_{i-1}; ``bwd i`` is the backward step of layer i
and needs a_i (the exam's convention: "the activation of layer i"). Activations
live in three places:

* **at hand**: in the working set the compute reads (computed, or loaded);
* **memory**: the store of checkpoints in device memory (``storemem``/``loadmem``);
* **disk**: the worker's local disk (``storedisk``/``loaddisk``).

A stored activation and its copy at hand share one buffer in device memory, so
a ``loadmem`` costs time but no bytes, while a ``loaddisk`` brings the bytes
back. ``free`` drops an activation from one place. Device memory in use is
the bytes of every activation that is at hand or in memory.

Two interpreters follow a schedule literally: the numpy executor
(:mod:`distsim.remat.numpy_exec`, real gradients) and the SimPy executor
(:mod:`distsim.remat.simpy_exec`, time and memory). :class:`Residency` is the
bookkeeping both the SimPy executor and :class:`Builder` use; the numpy
executor keeps its own arrays and checks availability on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from distsim.errors import SimulationError

FWD, BWD, STORE, LOAD, FREE = "fwd", "bwd", "store", "load", "free"
HAND, MEM, DISK = "", "mem", "disk"  # where an activation is: at hand, in memory, on disk


class ScheduleError(SimulationError):
    """A schedule asks for something it cannot do (an activation that is not there, a step out of order)."""


class Op(NamedTuple):
    """One step of a schedule: ``Op("fwd", 6)``, ``Op("load", 5, "mem")``, ``Op("free", 5)``."""

    kind: str  # fwd, bwd, store, load, free
    index: int  # the layer (fwd, bwd) or the activation a_index (store, load, free)
    tier: str = HAND  # store/load/free: mem or disk; free of the copy at hand: ""

    @property
    def name(self) -> str:
        """The op's name in traces and counts: fwd, bwd, loadmem, loaddisk, storemem, storedisk, free, freemem, freedisk."""
        return self.kind + self.tier

    def __str__(self) -> str:
        return f"{self.name} {self.index}" if self.kind in (FWD, BWD) else f"{self.name} a_{self.index}"


@dataclass(frozen=True)
class Schedule:
    """The ops of one step: the forward pass, then the backward pass (which the exam times alone)."""

    layers: int
    forward: tuple[Op, ...]
    backward: tuple[Op, ...]
    summary: str = ""  # what the schedule chose, in a sentence (checkpoints, segments, slots)
    params: dict = field(default_factory=dict)  # the parameters it ran with, defaults resolved
    input_load: bool = False  # bwd 1 needs a_0 at hand (see Residency)

    @property
    def ops(self) -> tuple[Op, ...]:
        return self.forward + self.backward

    def __len__(self) -> int:
        return len(self.forward) + len(self.backward)


class Residency:
    """Where every activation is, and the device and disk bytes that makes.

    ``apply(op, position)`` checks that the op can run (raising ScheduleError that
    names the op and why not) and returns the change in device bytes and in disk
    bytes. At the start only the input a_0 is at hand. Backward steps must come in
    order L, L-1, .., 1, once each. With ``input_load`` the first layer's weight
    gradient reads a_0, so ``bwd 1`` also needs a_0 at hand; without it (the exam's
    counting) a_0 is the input batch, always readable by ``bwd 1``.
    """

    def __init__(self, layers: int, sizes: tuple[int, ...] | None = None, input_load: bool = False):
        self.layers = layers
        self.sizes = sizes or (0,) * (layers + 1)
        self.input_load = input_load
        self.hand: set[int] = {0}
        self.mem: set[int] = set()
        self.disk: set[int] = set()
        self.next_bwd = layers
        self.gone: dict[tuple[str, int], tuple[Op, int]] = {}  # (place, index) -> the free that removed it, for messages
        self.device_bytes = self.sizes[0]
        self.disk_bytes = 0

    def apply(self, op: Op, position: int) -> tuple[int, int]:
        kind, i, tier = op
        if not 0 <= i <= self.layers or (kind in (FWD, BWD) and i == 0):
            self._fail(op, position, f"there is no {'layer' if kind in (FWD, BWD) else 'activation'} {i} in a chain of {self.layers} layers")
        if kind in (STORE, LOAD) and tier not in (MEM, DISK):
            self._fail(op, position, f"{kind} needs a tier, mem or disk (got {tier!r})")
        device = disk = 0
        if kind == FWD:
            self._need(op, position, HAND, i - 1)
            device = self._arrive(i)
        elif kind == BWD:
            if i != self.next_bwd:
                expected = f"bwd {self.next_bwd}" if self.next_bwd else "no more backward steps"
                self._fail(op, position, f"backward steps run from layer {self.layers} down to 1, once each; expected {expected}")
            self._need(op, position, HAND, i)
            if i == 1 and self.input_load:
                self._need(op, position, HAND, 0, why="the first layer's weight gradient needs the input a_0")
            self.next_bwd -= 1
        elif kind == STORE:
            self._need(op, position, HAND, i)
            if tier == DISK:
                disk = 0 if i in self.disk else self.sizes[i]
                self.disk.add(i)
            else:
                self.mem.add(i)  # the buffer at hand becomes the checkpoint: no new bytes
        elif kind == LOAD:
            self._need(op, position, tier, i)
            device = self._arrive(i)
        elif kind == FREE:
            self._need(op, position, tier, i, verb="free")
            self._place(tier).discard(i)
            self.gone[(tier, i)] = (op, position)
            if tier == DISK:
                disk = -self.sizes[i]
            elif i not in self.hand and i not in self.mem:  # the last reference to its buffer
                device = -self.sizes[i]
        else:
            self._fail(op, position, f"unknown op kind {kind!r}")
        self.device_bytes += device
        self.disk_bytes += disk
        return device, disk

    def _arrive(self, i: int) -> int:
        """a_i comes to hand; the bytes it adds (none if its buffer is already in device memory)."""
        new = 0 if i in self.hand or i in self.mem else self.sizes[i]
        self.hand.add(i)
        return new

    def finish(self) -> None:
        """A schedule must backpropagate every layer."""
        if self.next_bwd:
            raise ScheduleError(f"the schedule ends before bwd {self.next_bwd}: layers {self.next_bwd}..1 are never backpropagated")

    def at_hand(self, i: int) -> bool:
        return i in self.hand

    def _place(self, tier: str) -> set[int]:
        return {HAND: self.hand, MEM: self.mem, DISK: self.disk}[tier]

    def _need(self, op: Op, position: int, tier: str, i: int, why: str = "", verb: str = "use") -> None:
        if i in self._place(tier):
            return
        where = {HAND: "at hand", MEM: "in memory", DISK: "on disk"}[tier]
        history = self.gone.get((tier, i))
        reason = f"it was freed by {history[0]} (op {history[1]})" if history else "it was never " + (
            "computed or loaded" if tier == HAND else "stored there")
        self._fail(op, position, f"{why + ': ' if why else ''}cannot {verb} a_{i}, which is not {where} ({reason})")

    @staticmethod
    def _fail(op: Op, position: int, message: str) -> None:
        raise ScheduleError(f"op {position} ({op}): {message}")


class Builder:
    """Write a schedule op by op; each op is checked as it is added, so a broken strategy fails at once.

    The strategies in ``distsim.strategies`` read like their algorithms because of
    the few helpers here: ``advance`` (run forward, keeping only the newest
    activation at hand) and ``end_forward`` (the forward pass is over: only what
    was stored survives, as in the exam).
    """

    def __init__(self, layers: int, input_load: bool = False):
        self.layers = layers
        self.input_load = input_load
        self.ops: list[Op] = []
        self.boundary: int | None = None
        self.residency = Residency(layers, input_load=input_load)

    def _add(self, op: Op) -> None:
        self.residency.apply(op, len(self.ops))
        self.ops.append(op)

    def fwd(self, i: int) -> None:
        self._add(Op(FWD, i))

    def bwd(self, i: int) -> None:
        """Backward step of layer i; with ``input_load``, bwd 1 first loads a_0 if it is not at hand."""
        if self.boundary is None:
            self.boundary = len(self.ops)
        if i == 1 and self.input_load and not self.at_hand(0):
            self.load(0)
        self._add(Op(BWD, i))

    def store(self, i: int, tier: str = MEM) -> None:
        self._add(Op(STORE, i, tier))

    def load(self, i: int, tier: str = MEM) -> None:
        self._add(Op(LOAD, i, tier))

    def free(self, i: int, tier: str = HAND) -> None:
        self._add(Op(FREE, i, tier))

    def at_hand(self, i: int) -> bool:
        return self.residency.at_hand(i)

    def ensure(self, i: int, tier: str = MEM) -> None:
        """Have a_i at hand, loading it if it is not."""
        if not self.at_hand(i):
            self.load(i, tier)

    def advance(self, start: int, end: int) -> None:
        """Run layers start+1 .. end from a_start (at hand), dropping each input once its output exists."""
        for j in range(start + 1, end + 1):
            self.fwd(j)
            self.free(j - 1)

    def forward_pass(self, keep) -> None:
        """The initial forward pass: run every layer, store a_i on the tier ``keep(i)`` names
        ("mem", "disk") or not at all (None), drop each input once its output exists."""
        for i in range(self.layers + 1):
            if i > 0:
                self.fwd(i)
            tier = keep(i)
            if tier:
                self.store(i, tier)
            if i > 0:
                self.free(i - 1)
        self.end_forward()

    def end_forward(self) -> None:
        """End of the forward pass: drop everything at hand; the backward pass starts from what was stored."""
        for i in sorted(self.residency.hand):
            self.free(i)
        self.boundary = len(self.ops)

    def build(self, summary: str, **params) -> Schedule:
        self.residency.finish()
        cut = len(self.ops) if self.boundary is None else self.boundary
        return Schedule(self.layers, tuple(self.ops[:cut]), tuple(self.ops[cut:]), summary, params, self.input_load)


def peak_bytes(schedule: Schedule, sizes: tuple[int, ...]) -> int:
    """Peak device bytes of a schedule, counted op by op without simulating (ops run one at a time)."""
    residency = Residency(schedule.layers, sizes, schedule.input_load)
    peak = residency.device_bytes
    for position, op in enumerate(schedule.ops):
        residency.apply(op, position)
        peak = max(peak, residency.device_bytes)
    return peak
