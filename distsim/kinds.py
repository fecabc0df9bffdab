"""The run-kind table: everything that differs between a gradient exchange, a rematerialization
schedule and a training step, in one entry per kind.

A strategy names its kind (``family``); the API simulates, fits and analyzes through the
entry, the report formats through it, the CLI prints its header and summary table
through it and a sweep records its inputs through it. Nothing else tests a kind's name,
so a new kind of workload is one more entry here (and its own modules), not an edit in
six places. The report layer reaches an entry through ``Outcome.run_kind``, never by
importing this module (it sits above the engine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from distsim.communication import (analyze_communication, describe_communication, estimate_communication,
                                   fits_communication, sweep_inputs)
from distsim.remat.estimate import estimate_rematerialization
from distsim.remat.run import analyze_rematerialization, fits_rematerialization, run_rematerialization
from distsim.report.remat import does_not_fit, remat_describe, remat_dict, remat_table, remat_text
from distsim.report.summary import communication_dict, communication_text, exam_table
from distsim.report.training import did_not_fit as training_did_not_fit
from distsim.report.training import training_dict, training_table, training_text
from distsim.runner import run_communication
from distsim.training.estimate import estimate_training
from distsim.training.run import analyze_training, describe_training, fits_training, run_training


@dataclass(frozen=True)
class RunKind:
    """How to run, check and show one kind of run."""

    name: str
    simulate: Callable  # (scenario, strategy, where, monitor=None) -> RunResult
    analyze: Callable  # (result: RunResult, scenario, strategy) -> Reconciliation
    fits: Callable  # (scenario, strategy, spec, where) -> list[Problem]: what the kind needs of the scenario
    estimate: Callable  # (scenario, strategy) -> estimate.Estimate | None: the run's size, before it runs (cheap)
    json: Callable  # outcome -> dict: the ``--json`` object of one run
    text: Callable  # outcome -> str: the summary and check table of one run
    table: Callable  # outcomes -> str: several runs of this kind side by side
    describe: Callable  # (scenario, path) -> str: the first line ``distsim run`` prints
    sweep_inputs: Callable  # (scenario, strategy) -> dict: what a sweep row records of a point's inputs
    memory_sizes: bool = False  # the sizes its checks compare are memory (binary units), not traffic
    tradeoff: bool = False  # the HTML report adds the memory-against-time figure of its schedules
    did_not_fit: Callable = lambda meta: "does not fit"  # trace.meta of a run out of memory -> why, in words


def general_inputs(scenario, strategy) -> dict:
    """A sweep row's inputs for a kind whose closed forms the scaling plot does not redraw."""
    return {"workers": scenario.cluster.workers, "params": scenario.model.params}


KINDS: dict[str, RunKind] = {
    "communication": RunKind(
        name="communication",
        simulate=run_communication,
        analyze=analyze_communication,
        fits=fits_communication,
        estimate=estimate_communication,
        json=communication_dict,
        text=communication_text,
        table=exam_table,
        describe=describe_communication,
        sweep_inputs=sweep_inputs,
    ),
    "rematerialization": RunKind(
        name="rematerialization",
        simulate=run_rematerialization,
        analyze=analyze_rematerialization,
        fits=fits_rematerialization,
        estimate=estimate_rematerialization,
        json=remat_dict,
        text=remat_text,
        table=remat_table,
        describe=remat_describe,
        sweep_inputs=general_inputs,
        memory_sizes=True,
        tradeoff=True,
        did_not_fit=does_not_fit,
    ),
    "training": RunKind(
        name="training",
        simulate=run_training,
        analyze=analyze_training,
        fits=fits_training,
        estimate=estimate_training,
        json=training_dict,
        text=training_text,
        table=training_table,
        describe=describe_training,
        sweep_inputs=general_inputs,
        did_not_fit=training_did_not_fit,
    ),
}
