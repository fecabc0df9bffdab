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
    phases: list[str] = field(default_factory=list)
    op_kinds: list[str] = field(default_factory=list)
    routes: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)  # node pair -> link ids
    makespan: float = 0.0
    meta: dict = field(default_factory=dict)

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

    def link_bytes(self) -> np.ndarray:
        """Bytes carried by each link (indexed by link id)."""
        return self._per_link(lambda keys: 1.0)

    def link_busy_time(self) -> np.ndarray:
        """Seconds each link spent transmitting (a message holds every link of its route)."""
        return self._per_link(lambda key: 1.0 / min(self.links[i].bandwidth for i in self.routes[key]))

    def _per_link(self, weight_of_route) -> np.ndarray:
        """Sum over messages of nbytes x weight(route), credited to every link of the route."""
        totals = np.zeros(len(self.links), dtype=np.float64)
        m = self.messages
        if not len(m):
            return totals
        place = np.asarray(self.placement, dtype=np.int64)
        n_nodes = len(self.nodes)
        pair = place[m["src"]] * n_nodes + place[m["dst"]]
        unique, inverse = np.unique(pair, return_inverse=True)
        per_pair = np.bincount(inverse, weights=m["nbytes"].astype(np.float64), minlength=len(unique))
        for k, code in enumerate(unique.tolist()):
            key = divmod(code, n_nodes)
            for link in self.routes[key]:
                totals[link] += per_pair[k] * weight_of_route(key)
        return totals
