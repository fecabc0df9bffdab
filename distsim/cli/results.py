"""What ``distsim plot`` and ``distsim report`` accept as RESULT, and how each is read.

* a scenario file (``.yaml``/``.yml``/anything else that is a file and not ``.csv``):
  it is run, and its traces and reconciliations are used;
* a ``--trace-out`` directory: its traces are read back (no reconciliation: the
  directory does not say what was expected);
* a sweep CSV (``.csv``) written by ``distsim sweep``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from distsim import api
from distsim.cli.progress import step_message
from distsim.errors import InputError
from distsim.fileio import TEMP_PREFIX


@dataclass
class Result:
    """One RESULT argument, read: a scenario's outcomes, a trace directory's traces, or sweep rows."""

    path: Path
    kind: str  # "scenario", "traces" or "sweep"
    outcomes: list = field(default_factory=list)  # scenario: api.Outcome per strategy
    traces: list = field(default_factory=list)  # (title, Trace) per run (scenario and traces)
    rows: list = field(default_factory=list)  # sweep rows
    text: str = ""  # scenario: the file as written


def classify(path: Path) -> str:
    if path.is_dir():
        if path.name.startswith(TEMP_PREFIX):
            raise InputError(f"{path}: an unfinished --trace-out folder (its run was interrupted); run the scenario again")
        return "traces"
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    return "sweep" if path.suffix.lower() == ".csv" else "scenario"


def read_result(path: Path, force: bool = False) -> Result:
    kind = classify(path)
    if kind == "traces":
        return Result(path, kind, traces=_traces(path))
    if kind == "sweep":
        from distsim.report.plots import read_sweep_csv

        return Result(path, kind, rows=read_sweep_csv(path))
    outcomes = api.run(path, on_progress=step_message, force=force)
    text = path.read_text(encoding="utf-8", errors="replace")
    return Result(path, kind, outcomes=outcomes, traces=[(o.result.kind, o.trace) for o in outcomes], text=text)


def _traces(directory: Path) -> list:
    from distsim.trace.load import TraceFormatError, load_trace, trace_directories

    try:
        return [(load.meta.get("strategy", d.name), load) for d in trace_directories(directory) for load in [load_trace(d)]]
    except TraceFormatError as exc:
        raise InputError(str(exc)) from None
