"""Gradients as strategies see them: real numpy arrays, or phantoms that only have a size.

A strategy is written once, with ordinary arithmetic on tensors (``chunk += incoming``,
``total / n``). In verification mode the tensors are numpy arrays and the arithmetic
is real; at scale (p = 1e9 on 1,024 workers) they are :class:`Phantom` tensors, whose
arithmetic does nothing but keep the size, so the same code path counts the same
messages and bytes without allocating terabytes. (SimGrid makes the same split:
a message's simulated size is separate from its optional content.)
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np


class Phantom(list):
    """A tensor with a size and no data. Arithmetic and slicing keep the size; nothing is stored.

    It is an (always empty) list so that the operations a collective performs once
    per message run in C: ``chunk += incoming`` is ``list.__iadd__`` of two empty
    lists (it returns ``chunk`` itself), and ``chunk[:] = incoming`` is an empty slice
    assignment. A Python-level ``__iadd__`` would add a function call to every
    message of a two-million-message ring.
    """

    __slots__ = ("size",)

    def __init__(self, size: int):
        self.size = size

    def _same(self, other=None) -> "Phantom":
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __isub__ = _same
    __mul__ = __rmul__ = __imul__ = __truediv__ = __itruediv__ = __neg__ = _same
    __hash__ = object.__hash__

    def __eq__(self, other) -> bool:
        return isinstance(other, Phantom) and other.size == self.size

    def copy(self) -> "Phantom":
        return self

    def __repr__(self) -> str:
        return f"Phantom(size={self.size})"


Tensor = np.ndarray | Phantom
_SIZE = attrgetter("size")


def split(tensor: Tensor, parts: int) -> list[Tensor]:
    """Split into ``parts`` chunks whose sizes differ by at most one element (larger first).

    numpy chunks are views: writing into them writes into ``tensor``. Phantom chunks
    of equal size are one shared object, so splitting costs O(1) memory per size.
    """
    if isinstance(tensor, np.ndarray):
        return np.array_split(tensor, parts)
    base, extra = divmod(tensor.size, parts)
    big, small = Phantom(base + 1), Phantom(base)
    return [big] * extra + [small] * (parts - extra)


def zeros_like(tensor: Tensor) -> Tensor:
    return np.zeros_like(tensor) if isinstance(tensor, np.ndarray) else Phantom(tensor.size)


def join(chunks: list[Tensor]) -> Tensor:
    """The tensor made of ``chunks`` end to end (the inverse of :func:`split`)."""
    if isinstance(chunks[0], np.ndarray):
        return np.concatenate(chunks)
    return Phantom(sum(map(_SIZE, chunks)))  # map: the sum runs in C (a collective joins O(n) chunks a round)
