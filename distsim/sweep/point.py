"""Run one sweep point and turn its outcome into a CSV row: the task every executor runs.

``run_point`` is a plain top-level function of text in, text out, so that it
pickles by reference to a process pool or a Dask worker and gives the same row
wherever it runs.
"""

from __future__ import annotations

from distsim import api
from distsim.errors import SimulationError
from distsim.sweep.table import RESULT_COLUMNS, cell

CONTENTION_FREE = "makespan (contention-free"


def run_point(text: str, name: str) -> dict[str, str]:
    """Load, run and reconcile one point; a simulation that cannot finish becomes an error row.

    The size limits were applied (or lifted with --force) when the grid was expanded.
    """
    prepared = api.prepare(name, text, force=True)
    (strategy,) = prepared.strategies
    kind = api.KINDS[strategy.family]
    row = {"strategy": getattr(strategy, "label", strategy.name), "family": kind.name, **kind.sweep_inputs(prepared.scenario, strategy)}
    try:
        (outcome,) = api.run(prepared)
    except SimulationError as exc:
        row.update(ok=False, error=str(exc))
    else:
        row.update(_measured(outcome))
    return {column: cell(row.get(column)) for column in RESULT_COLUMNS}


def _measured(outcome) -> dict:
    rec = outcome.reconciliation
    sim, exp = rec.simulated, rec.expected
    row = {
        "messages": sim.get("messages"),
        "total_bytes": sim.get("total_bytes"),
        "message_sizes": sim.get("message_bytes"),
        "makespan_s": sim.get("makespan_s"),
        "expected_messages": exp.get("messages"),
        "expected_total_bytes": exp.get("total_bytes"),
        "expected_makespan_s": exp.get("makespan_s"),
        "counts_ok": rec.counts_ok,
        "verified": outcome.result.verified,
        "ok": rec.ok,
    }
    for check in rec.checks:
        if check.name.startswith(CONTENTION_FREE):
            row["makespan_status"] = check.status
    models = [k for k in exp if k.startswith("makespan_s (")]
    if models:
        row["makespan_model"] = models[0][len("makespan_s ("):-1]
        row["expected_makespan_model_s"] = exp[models[0]]
    return row
