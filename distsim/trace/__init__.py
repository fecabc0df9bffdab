"""What a simulation did, as data: a message table, an op table and the metadata to read them.

This package is a leaf: it imports nothing else from distsim, so that the engine
writes traces, and the analyzer and the reports read them, without knowing each
other. Every time is in simulated seconds, every size in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from distsim.trace.table import Table

# One row per message that crossed the network, in the order their transfers were scheduled
# (sends between ranks on the same node are local copies and are not messages).
# A message's id is its row number: ``trace.messages["id"]``.
MESSAGE_FIELDS = (
    ("src", "i"),  # sending rank
    ("dst", "i"),  # receiving rank
    ("nbytes", "q"),
    ("phase", "h"),  # index into Trace.phases
    ("step", "i"),  # the strategy's step number within its phase
    ("t_send", "d"),  # when the sender handed the message to the network
    ("t_start", "d"),  # when its transfer started (after waiting for busy links)
    ("t_arrive", "d"),  # when its last byte reached the receiver
    ("blocked_by", "i"),  # link whose occupancy delayed the start, -1 if none
)

# When a message started on each hop of its route, for the messages that waited at a link on the
# way (link models only): the start of every other hop follows from the message's row and its
# route (report/occupancy.py), so a run whose messages never wait records nothing here.
HOP_FIELDS = (
    ("message", "q"),  # the message's id (row in the message table)
    ("hop", "h"),  # 0 for the first link of its route
    ("t_start", "d"),  # when its first byte started on that link
)

# One row per operation a rank performed on its own device.
OP_FIELDS = (
    ("rank", "i"),
    ("kind", "h"),  # index into Trace.op_kinds
    ("index", "i"),  # e.g. the layer of a fwd/bwd op; -1 when not applicable
    ("t_start", "d"),
    ("t_end", "d"),
    ("flops", "d"),
    ("nbytes", "q"),
    ("memory_in_use", "q"),  # bytes held on the rank's device after the op
)


@dataclass(frozen=True)
class LinkInfo:
    """One direction of a full-duplex cable."""

    id: int
    name: str
    src: str
    dst: str
    bandwidth: float  # bytes/s
    latency: float  # s


@dataclass
class Trace:
    """The record of one run. Columns: ``trace.messages["t_arrive"]``, ``trace.ops["kind"]``."""

    ranks: list[str]  # rank -> display name ("w0", "ps")
    placement: list[int]  # rank -> node index
    nodes: list[str]  # node index -> name
    links: list[LinkInfo]
    messages: Table = field(default_factory=lambda: Table(MESSAGE_FIELDS, index="id"))  # id: the row number
    ops: Table = field(default_factory=lambda: Table(OP_FIELDS))
    hops: Table = field(default_factory=lambda: Table(HOP_FIELDS))
    phases: list[str] = field(default_factory=list)
    op_kinds: list[str] = field(default_factory=list)
    routes: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)  # node pair -> link ids
    makespan: float = 0.0
    meta: dict = field(default_factory=dict)
    network: str = "cut_through"  # the network model that timed the messages (docs/model.md)
    _pairs: tuple = field(default=(-1, {}), init=False, repr=False, compare=False)  # (rows, pair_bytes) cache

    def maybe_flush(self) -> None:
        """Move packed rows into their columns when enough have piled up (the engine calls this between instants)."""
        self.messages.maybe_flush()
        self.hops.maybe_flush()

    def code(self, names: list[str], name: str) -> int:
        """Small integer code of a phase or op-kind name, adding it on first use."""
        try:
            return names.index(name)
        except ValueError:
            names.append(name)
            return len(names) - 1

    @property
    def message_count(self) -> int:
        return len(self.messages)

    def pair_bytes(self) -> dict[tuple[int, int], int]:
        """Bytes sent from each rank to each other rank that sent it anything: ``{(src, dst): bytes}``."""
        m = self.messages
        if self._pairs[0] != len(m):
            totals: dict[int, float] = {}
            ranks = max(len(self.ranks), 1)
            for part in m.slices(("src", "dst", "nbytes"), CHUNK):
                keys = part["src"].astype(np.int64) * ranks + part["dst"]
                unique, inverse = np.unique(keys, return_inverse=True)
                sums = np.bincount(inverse, weights=part["nbytes"], minlength=len(unique))
                for key, value in zip(unique.tolist(), sums.tolist()):
                    totals[key] = totals.get(key, 0.0) + value
            self._pairs = (len(m), {divmod(key, ranks): int(value) for key, value in sorted(totals.items())})
        return self._pairs[1]

    def link_bytes(self) -> np.ndarray:
        """Bytes carried by each link (indexed by link id): every message crosses every link of its route."""
        totals = np.zeros(len(self.links), dtype=np.float64)
        for (src, dst), nbytes in self.pair_bytes().items():
            for link in self.routes.get((self.placement[src], self.placement[dst]), ()):
                totals[link] += nbytes
        return totals

    def link_busy_time(self) -> np.ndarray:
        """Seconds each link spent transmitting: its bytes over its own bandwidth (a fast link on a
        slow route is busy for a short time)."""
        bandwidth = np.array([link.bandwidth for link in self.links], dtype=np.float64)
        return self.link_bytes() / bandwidth if len(self.links) else np.zeros(0)


CHUNK = 1 << 18  # rows per slice when aggregating columns (Table.slices), so that temporaries stay small
