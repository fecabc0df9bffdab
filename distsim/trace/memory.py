"""Device memory over time, by category: a small table of changes, and the peak read back from it.

A rank's device memory holds five kinds of bytes (issue 9): the weights, the
gradients, the optimizer state (Adam's fp32 master copy and two moments), the
activations kept for backward, and communication buffers. The engine appends one
row to ``Trace.memory`` each time a rank allocates or releases bytes of a category:
the rank, the category, the time, the category's bytes after the change and the
rank's total after it. Everything about memory over time (a plot per category, the
peak and what made it up) is read from those rows, never from the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The order is the code stored in the table's ``category`` column.
CATEGORIES = ("weights", "gradients", "optimizer", "activations", "buffers")

MEMORY_FIELDS = (
    ("rank", "i"),
    ("category", "b"),  # index into CATEGORIES
    ("t", "d"),  # when the change happened
    ("nbytes", "q"),  # the category's bytes on this rank after the change
    ("total", "q"),  # the rank's bytes in use after the change (every category)
)


@dataclass(frozen=True)
class Peak:
    """A rank's largest total memory in use, when it was first reached, and what it was made of."""

    total: int
    t: float
    by_category: dict[str, int]


def peaks(memory, ranks: int) -> dict[int, Peak]:
    """Per rank that allocated anything, its peak from the table of changes ``memory`` (``Trace.memory``).

    The first row where a rank's total is largest is the moment of the peak; each
    category's bytes then are its value in the last row of that category at or
    before that row.
    """
    columns = memory.columns()
    rank, category, total, nbytes = columns["rank"], columns["category"], columns["total"], columns["nbytes"]
    order = np.argsort(rank, kind="stable")  # each rank's rows together, still in time order
    starts = np.searchsorted(rank[order], np.arange(ranks + 1))
    found = {}
    for r in range(ranks):
        rows = order[starts[r]:starts[r + 1]]
        if not len(rows):
            continue
        first = int(np.argmax(total[rows]))  # argmax: the first of equal maxima
        upto = rows[: first + 1]
        by_category = dict.fromkeys(CATEGORIES, 0)
        for code, name in enumerate(CATEGORIES):
            of = upto[category[upto] == code]
            if len(of):
                by_category[name] = int(nbytes[of[-1]])
        found[r] = Peak(int(total[rows[first]]), float(columns["t"][rows[first]]), by_category)
    return found


def breakdown_text(by_category: dict[str, int], fmt=lambda n: f"{n:,} bytes") -> str:
    """'weights 13 GB, activations 2 GB': the non-zero categories, in CATEGORIES order."""
    parts = [f"{name} {fmt(by_category[name])}" for name in CATEGORIES if by_category.get(name)]
    return ", ".join(parts) or "nothing"
