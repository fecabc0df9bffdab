"""Run one measurement in a fresh interpreter and read back its JSON line.

Every suite measures this way: a child process's peak resident memory is its own
(``peak_rss``), and no measurement inherits another's warm caches or heap.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

from distsim.errors import SimulationError


def in_child(module: str, *args: object) -> dict:
    """``python -m MODULE ARGS...``; the last line it prints is a JSON object."""
    out = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:  # say why in one line (a scenario over the limits, out of memory), not as a traceback
        why = next((line for line in reversed(out.stderr.splitlines()) if line.strip()), f"exit code {out.returncode}")
        raise SimulationError(f"benchmark {module} {' '.join(map(str, args))} failed: {why.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def alternating(module: str, kinds: tuple[str, ...], n: int, repeat: int, progress=None) -> list[list[dict]]:
    """``repeat`` rounds of one child per kind, in turn (so load on the machine falls on each alike):
    the rows of each kind, in ``kinds`` order."""
    rows: list[list[dict]] = [[] for _ in kinds]
    for i in range(repeat):
        if progress:
            progress(f"{module.rsplit('.', 1)[-1]} n={n}: repetition {i + 1}/{repeat}")
        for kind, found in zip(kinds, rows):
            found.append(in_child(module, kind, n))
    return rows


def peak_rss() -> int:
    """This process's peak resident memory in bytes (Linux reports KiB); includes the interpreter and numpy."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def report(row: dict) -> None:
    """The child's side: print the row, with the process's peak memory, as the last line."""
    print(json.dumps({**row, "peak_bytes": peak_rss()}))
