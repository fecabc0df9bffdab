"""Butterfly algorithms on any group size: fold the group to a power of two first, unfold after.

Thakur, Rabenseifner & Gropp, "Optimization of collective communication operations
in MPICH", IJHPCA 19(1), 2005, section 4: with n = 2^L + r, each of the first r even
positions sends its whole vector to the odd position after it, which adds it in;
those 2^L "active" ranks run the power-of-two algorithm; at the end each odd position
among the first 2r sends the result back. This costs 2 (alpha + p s / beta) extra.
"""

from __future__ import annotations

from distsim.collectives.peers import Peers, label

FOLD, UNFOLD = "fold", "unfold"


def power_of_two_below(n: int) -> int:
    return 1 << (n.bit_length() - 1)


class Fold:
    """Where a position sits in the folded group: active (with an index 0..2^L-1) or folded away."""

    def __init__(self, peers: Peers):
        n = peers.size
        self.peers, self.active_size = peers, power_of_two_below(n)
        self.extra = n - self.active_size  # r
        i = peers.index
        self.folded = i < 2 * self.extra and i % 2 == 0  # sends its vector away and waits for the result
        self.partner = peers.rank(i + 1 if i % 2 == 0 else i - 1) if i < 2 * self.extra else None
        self.active_index = i // 2 if i < 2 * self.extra else i - self.extra

    def active_rank(self, index: int) -> int:
        """The rank of active index ``index``."""
        return self.peers.rank(2 * index + 1 if index < self.extra else index + self.extra)

    def fold_in(self, ctx, buffer, phase: str):
        """Before: a folded rank sends its vector; its partner adds it. Returns None on a folded rank."""
        if self.partner is None:
            return buffer
        if self.folded:
            ctx.send(self.partner, buffer, label(phase, FOLD))
            return None
        buffer += yield ctx.recv(self.partner)
        return buffer

    def unfold(self, ctx, result, phase: str):
        """After: the partner sends the result back to the folded rank."""
        if self.partner is None:
            return result
        if self.folded:
            return (yield ctx.recv(self.partner))
        ctx.send(self.partner, result, label(phase, UNFOLD))
        return result
