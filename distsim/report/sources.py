"""Where each expected value is derived: the section of docs/derivations.md a report's source points at.

The closed forms name their sources as text (a paper, "exam.md problem 1"); the exam
is not in the repository, so a report would point at a file a reader cannot open.
Reports instead show each check's source with a link to its derivation in
``docs/derivations.md``, which quotes what it needs from the exam and cites the
papers. The anchors are GitHub's, from the page's headings; a test checks that each
one exists.
"""

from __future__ import annotations

import re

DERIVATIONS = "docs/derivations.md"
EXAM_FILE = re.compile(r"exam\.md (problem \d)")

# Strategy kind -> its section's anchor prefix (the heading's words).
SECTIONS = {
    "all_to_all": "all-to-all",
    "parameter_server": "parameter-server",
    "ring_allreduce": "ring-all-reduce",
}
REMAT = {
    "store_all": "store_all",
    "checkpoint_every_k": "checkpoint_every_k",
    "segment_recompute": "segment_recompute",
    "checkpoint_sequential": "checkpoint_sequential",
    "disk_offload": "disk_offload",
    "optimal": "optimal-revolve",
}
COUNTS = ("messages", "message sizes", "total bytes", "traffic per pair")
REMAT_TIMES = ("backward time", "break-even loaddisk latency")
REMAT_CONVENTIONS = ("forward-pass fwd ops", "bwd ops")


def derivation(kind: str, check: str) -> str | None:
    """The anchor in docs/derivations.md deriving check ``check`` of strategy ``kind`` (None if none)."""
    if kind in SECTIONS:
        return _communication(SECTIONS[kind], check)
    if kind in REMAT:
        if check in REMAT_TIMES:
            return "backward-time-and-the-break-even-loaddisk"
        if check in REMAT_CONVENTIONS:
            return "rematerialization-counting-conventions"
        return REMAT[kind]
    return None


def _communication(section: str, check: str) -> str | None:
    if check in COUNTS:
        return f"{section}-messages-and-bytes"
    if check == "makespan (link-load bound)":
        return "the-link-load-bound"
    if check == "makespan (server link bottleneck)":
        return "parameter-server-the-server-link-bottleneck"
    if check.startswith("makespan"):
        return "parameter-server-contention-free-makespan" if section == "parameter-server" else f"{section}-makespan"
    return None


def source_text(source: str) -> str:
    """A source as a reader can follow it: 'exam.md problem 1', a file not in the repository, becomes
    'the exam, problem 1', which docs/derivations.md quotes (the report links each check there)."""
    return EXAM_FILE.sub(r"the exam, \1", source)


def link(anchor: str) -> str:
    """Where a derivation is, relative to the repository's root."""
    return f"{DERIVATIONS}#{anchor}"
