"""Who takes part in a collective, where this rank sits among them, and how buffers are cut.

A collective runs on a *group*: a tuple of global ranks that contains the calling
rank. Algorithms think in positions 0..n-1 (a ring's neighbour is position i+1);
:class:`Peers` turns positions back into ranks, so every algorithm works unchanged
on any subgroup (one node's GPUs, one rail across nodes, one bucket's ranks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distsim.engine import Phantom, Tensor, join
from distsim.errors import InputError


class CollectiveError(InputError):
    """A collective that cannot run as asked: a bad group, an unknown algorithm, a size it cannot split."""


@dataclass(frozen=True)
class Peers:
    """The group's ranks and this rank's position among them."""

    ranks: tuple[int, ...]
    index: int

    @classmethod
    def of(cls, group, rank: int) -> "Peers":
        ranks = tuple(group)
        if len(set(ranks)) != len(ranks):
            raise CollectiveError(f"group {ranks} names a rank twice")
        if rank not in ranks:
            raise CollectiveError(f"rank {rank} called a collective on group {ranks}, which does not contain it")
        return cls(ranks, ranks.index(rank))

    @property
    def size(self) -> int:
        return len(self.ranks)

    def rank(self, position: int) -> int:
        """The rank at ``position`` (taken modulo the group size, so i+1 wraps round a ring)."""
        return self.ranks[position % len(self.ranks)]

    def sub(self, ranks) -> "Peers":
        """The same rank's place in a smaller group (one node, one rail)."""
        return Peers.of(ranks, self.ranks[self.index])


def label(phase: str, stage: str) -> str:
    """The trace's phase name of a message: the caller's phase, then the algorithm's stage."""
    return f"{phase}:{stage}" if phase else stage


def chunk_sizes(total: int, parts: int) -> list[int]:
    """Sizes of ``engine.split(tensor, parts)``: larger chunks first, differing by at most one."""
    base, extra = divmod(total, parts)
    return [base + 1] * extra + [base] * (parts - extra)


def cut(tensor: Tensor, sizes: list[int]) -> list[Tensor]:
    """Cut ``tensor`` into consecutive pieces of the given sizes (views, for numpy)."""
    if isinstance(tensor, np.ndarray):
        return np.split(tensor, np.cumsum(sizes[:-1])) if sizes else []
    return list(map(Phantom, sizes))


def add_into(chunks: list[Tensor], span: tuple[int, int], incoming: Tensor) -> None:
    """``chunks[lo:hi] += incoming``, cut to their sizes. Phantoms only keep a size, which a sum does not
    change: then nothing is done (the loop over the span would cost O(n) per round of a collective)."""
    if isinstance(incoming, Phantom):
        return
    lo, hi = span
    for k, piece in enumerate(cut(incoming, [c.size for c in chunks[lo:hi]])):
        chunks[lo + k] += piece


def place(chunks: list[Tensor], span: tuple[int, int], incoming: Tensor) -> None:
    """``chunks[lo:hi] = incoming``, cut to their sizes (nothing to do for phantoms: the sizes stay)."""
    if isinstance(incoming, Phantom):
        return
    lo, hi = span
    chunks[lo:hi] = cut(incoming, [c.size for c in chunks[lo:hi]])


def joined(pieces: list[Tensor]) -> Tensor:
    """One tensor of ``pieces`` end to end (a single piece is sent as it is)."""
    return pieces[0] if len(pieces) == 1 else join(pieces)


def copy_of(tensor: Tensor) -> Tensor:
    """A private copy: collectives never write into the caller's buffer (a phantom has nothing to copy)."""
    return tensor.copy()


def equal_blocks(tensor: Tensor, parts: int, what: str) -> int:
    """The block size when ``tensor`` splits into ``parts`` equal blocks (as NCCL and MPI require)."""
    if tensor.size % parts:
        raise CollectiveError(f"{what} needs a tensor that splits into {parts} equal blocks, got {tensor.size} elements")
    return tensor.size // parts
