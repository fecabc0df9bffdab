"""The tidy sweep CSV: one row per point, the swept inputs first, then what the run measured.

Columns (see docs/sweeps.md): ``point_key``, one column per swept path (the value
as written), ``strategy``, the inputs the closed forms use (``workers``,
``params``, ...), the simulated counts and makespan, the expected values, and the
verdicts. Every value is text, written the same way whichever process computed
it: floats with ``repr`` (exact round trip), booleans as ``true``/``false``.
Wall-clock times are left out on purpose: they would make two runs of the same
sweep differ.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from distsim.errors import InputError

KEY = "point_key"
# What a point's run produces (everything but the key and the swept columns), in order.
RESULT_COLUMNS = (
    "strategy", "family",
    "workers", "params", "bytes_per_param", "topology", "network", "bandwidth", "latency", "flops", "reduce_compute", "server",
    "messages", "total_bytes", "message_sizes", "makespan_s",
    "expected_messages", "expected_total_bytes", "expected_makespan_s", "makespan_model", "expected_makespan_model_s",
    "makespan_status", "counts_ok", "verified", "ok", "error",
)


def header(paths: list[str]) -> list[str]:
    return [KEY, *paths, *RESULT_COLUMNS]


def cell(value: object) -> str:
    """One value as CSV text, identically in every process."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def swept_cell(value: object) -> str:
    """A swept value as the user wrote it (a string stays a string; the rest as JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def render(columns: list[str], rows: list[dict]) -> str:
    """The CSV text of ``rows`` (dicts of text) under ``columns``; newline-terminated rows."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def read_results(path: Path) -> dict[str, dict]:
    """Finished points of a previous sweep CSV, by point key (rows with an error are run again).

    Raises InputError when the file is not a distsim sweep CSV (so it is never
    overwritten by accident; ``--force`` replaces it).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the previous results ({exc}); use --force to replace the file") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    if KEY not in columns:
        raise InputError(f"{path}: not a distsim sweep CSV (no {KEY!r} column); use --force to replace it or choose another -o")
    if any(column not in columns for column in RESULT_COLUMNS):
        return {}  # written by another version of distsim: run everything again
    results = {}
    for row in reader:
        if row.get(KEY) and not row.get("error") and None not in row.values():
            results[row[KEY]] = {column: row[column] for column in RESULT_COLUMNS}
    return results
