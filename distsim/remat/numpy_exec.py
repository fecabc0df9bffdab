"""The proof that a schedule is correct: run it on a real tanh MLP and compare the gradients.

The network is a_i = tanh(W_i a_{i-1} + b_i), i = 1..L, of a small width, with
the loss ½‖a_L − y‖². Backpropagation is arranged so that backward step i reads
only a_i (the exam's convention):

    u_i = a_L − y (i = L)   or   W_{i+1}ᵀ δ_{i+1}
    δ_i = u_i ⊙ (1 − a_i²),  db_i = δ_i,  dW_{i+1} = δ_{i+1} a_iᵀ (i < L)

and step 1 also forms dW_1 = δ_1 a_0ᵀ from the input. The executor keeps its own
arrays for what is at hand, in memory and on disk, and follows the schedule
literally: ``fwd i`` really recomputes a_i from the a_{i-1} at hand, ``load``
copies a stored array, ``free`` deletes it. Reading an activation that is not
there (never computed, freed, stored but not loaded) raises ScheduleError, so a
schedule that skips a recomputation cannot produce gradients at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distsim.remat.schedule import BWD, DISK, FREE, FWD, HAND, LOAD, MEM, STORE, Op, Schedule, ScheduleError

WIDTH = 8


@dataclass
class Gradients:
    weights: list[np.ndarray]  # dW_1 .. dW_L
    biases: list[np.ndarray]  # db_1 .. db_L

    def allclose(self, other: "Gradients", rtol: float = 1e-9) -> bool:
        """Equal up to rounding, relative to each entry (deep chains have tiny gradients)."""
        pairs = zip(self.weights + self.biases, other.weights + other.biases)
        return all(np.allclose(a, b, rtol=rtol, atol=0.0) for a, b in pairs)

    def largest_difference(self, other: "Gradients") -> float:
        pairs = zip(self.weights + self.biases, other.weights + other.biases)
        return max(float(np.max(np.abs(a - b))) for a, b in pairs)


class MLP:
    """L tanh layers of ``width`` units, weights from one seeded generator (W scaled to keep signals alive)."""

    def __init__(self, layers: int, width: int = WIDTH, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.layers = layers
        self.W = [np.empty((0, 0))] + [rng.standard_normal((width, width)) * (1.2 / np.sqrt(width)) for _ in range(layers)]
        self.b = [np.empty(0)] + [0.1 * rng.standard_normal(width) for _ in range(layers)]
        self.x = rng.standard_normal(width)  # a_0, the input batch (batch size 1)
        self.y = 0.5 * rng.standard_normal(width)  # the target

    def layer(self, i: int, a: np.ndarray) -> np.ndarray:
        return np.tanh(self.W[i] @ a + self.b[i])


def reference_gradients(mlp: MLP) -> Gradients:
    """Textbook backpropagation with every activation kept: what any correct schedule must reproduce."""
    a = [mlp.x]
    for i in range(1, mlp.layers + 1):
        a.append(mlp.layer(i, a[-1]))
    dW, db = [None] * (mlp.layers + 1), [None] * (mlp.layers + 1)
    u = a[-1] - mlp.y
    for i in range(mlp.layers, 0, -1):
        delta = u * (1.0 - a[i] ** 2)
        dW[i], db[i] = np.outer(delta, a[i - 1]), delta
        u = mlp.W[i].T @ delta
    return Gradients(dW[1:], db[1:])


def execute(schedule: Schedule, mlp: MLP) -> Gradients:
    """Follow ``schedule`` op by op on ``mlp``; the gradients it computes, or ScheduleError."""
    if schedule.layers != mlp.layers:
        raise ScheduleError(f"the schedule is for {schedule.layers} layers, the network has {mlp.layers}")
    places: dict[str, dict[int, np.ndarray]] = {HAND: {0: mlp.x.copy()}, MEM: {}, DISK: {}}
    dW, db = [None] * (mlp.layers + 1), [None] * (mlp.layers + 1)
    delta_above = None  # δ_{i+1} from the previous backward step
    expected_bwd = mlp.layers

    def read(place: str, i: int, op: Op, position: int) -> np.ndarray:
        try:
            return places[place][i]
        except KeyError:
            where = {HAND: "at hand", MEM: "in memory", DISK: "on disk"}[place]
            raise ScheduleError(f"op {position} ({op}): a_{i} is not {where}") from None

    for position, op in enumerate(schedule.ops):
        kind, i, tier = op
        if kind == FWD:
            places[HAND][i] = mlp.layer(i, read(HAND, i - 1, op, position))
        elif kind == BWD:
            if i != expected_bwd:
                raise ScheduleError(f"op {position} ({op}): expected bwd {expected_bwd}")
            a = read(HAND, i, op, position)
            if i == mlp.layers:
                u = a - mlp.y
            else:
                u = mlp.W[i + 1].T @ delta_above
                dW[i + 1] = np.outer(delta_above, a)
            delta = u * (1.0 - a**2)
            db[i] = delta
            if i == 1:
                a0 = read(HAND, 0, op, position) if schedule.input_load else mlp.x
                dW[1] = np.outer(delta, a0)
            delta_above, expected_bwd = delta, i - 1
        elif kind == STORE:
            places[tier][i] = read(HAND, i, op, position).copy()
        elif kind == LOAD:
            places[HAND][i] = read(tier, i, op, position).copy()
        elif kind == FREE:
            read(tier, i, op, position)
            del places[tier][i]
        else:
            raise ScheduleError(f"op {position} ({op}): unknown op kind {kind!r}")
    if expected_bwd:
        raise ScheduleError(f"the schedule ends before bwd {expected_bwd}: layers {expected_bwd}..1 are never backpropagated")
    return Gradients(dW[1:], db[1:])
