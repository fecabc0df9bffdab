"""One run as plain data (the ``--json`` output), and as text tables for a terminal.

Reports never import the engine: they read outcomes (a trace, a reconciliation
and a few facts about the run) and format them.
"""

from __future__ import annotations

from distsim.fmt import fmt_bytes, fmt_count, fmt_time
from distsim.report.remat import remat_dict, remat_text
from distsim.report.tables import check_table, table


def outcome_dict(outcome) -> dict:
    """The JSON object of one strategy run (its family decides the keys)."""
    return FORMATS[outcome.family][0](outcome)


def run_text(outcome) -> str:
    """A short summary and the reconciliation table of one run (its family decides the layout)."""
    return FORMATS[outcome.family][1](outcome)


def communication_dict(outcome) -> dict:
    """The JSON object of one gradient-exchange run."""
    result, rec = outcome.result, outcome.reconciliation
    scenario = result.scenario
    sim = rec.simulated
    head = {
        "strategy": result.kind,
        "family": "communication",
        "workers": scenario.cluster.workers,
        "params": scenario.model.params,
        "bytes_per_param": scenario.model.bytes_per_param,
        "topology": scenario.cluster.topology_name,
        "fits": outcome.failure is None,
    }
    if outcome.failure is not None:
        return {**head, "out_of_memory": str(outcome.failure), "ok": False}
    return {
        **head,
        "messages": sim["messages"],
        "message_bytes": {str(k): v for k, v in sim["message_bytes"].items()},
        "total_bytes": sim["total_bytes"],
        "makespan_s": sim["makespan_s"],
        "expected": {k: ({str(a): b for a, b in v.items()} if isinstance(v, dict) else v) for k, v in rec.expected.items()},
        "checks": [
            {"name": c.name, "expected": _jsonable(c.expected), "simulated": _jsonable(c.simulated), "ok": c.ok,
             "status": c.status, "formula": c.formula, "source": c.source}
            for c in rec.checks
        ],
        "explanation": rec.notes,
        "payload_verified": result.verified,
        **({"decided": result.facts} if result.facts else {}),
        "memory_peak_bytes": result.memory_peak,
        "wall_time_s": result.wall_seconds,
        "ok": rec.ok,
    }


def _jsonable(value):
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


def communication_text(outcome) -> str:
    """Summary line, check table and explanation of one gradient-exchange run."""
    result, rec = outcome.result, outcome.reconciliation
    sim = rec.simulated
    if outcome.failure is not None:
        return f"{result.kind}: does not fit: {outcome.failure}"
    verified = "payloads verified: every worker ends with the exact result" if result.verified else "sizes only (no payload check)"
    lines = [
        f"{result.kind}: {fmt_count(sim['messages'])} messages, {fmt_bytes(sim['total_bytes'])} in total, "
        f"makespan {fmt_time(sim['makespan_s'])}  [{verified}]",
        "",
        check_table(rec.checks, _show),
    ]
    if result.facts:
        lines[1:1] = [decided_text(result.facts)]
    if rec.notes:
        lines += [""] + [f"  {note}" for note in rec.notes]
    return "\n".join(lines)


def decided_text(facts: dict) -> str:
    """One line: the collective that ran, and for ``auto`` its choice and the runner-up with their predicted times."""
    line = f"{facts['op']} by {facts['algorithm']}"
    if facts.get("requested") == "auto":
        line += f" (auto: predicted {fmt_time(facts['predicted_s'])}"
        if "runner_up" in facts:
            line += f"; runner-up {facts['runner_up']}, {fmt_time(facts['runner_up_predicted_s'])}"
        line += ")"
    return line


def _show(name: str, value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return ", ".join(f"{fmt_count(n)} x {fmt_bytes(size)}" for size, n in sorted(value.items(), reverse=True)) or "none"
    if "makespan" in name:
        return fmt_time(value)
    if "bytes" in name:
        return fmt_bytes(value)
    return fmt_count(value)


def exam_table(outcomes) -> str:
    """The exam's table (messages and size of each, in parameters) from the simulated traces."""
    rows = []
    for outcome in outcomes:
        if outcome.failure is not None:
            rows.append([outcome.result.kind, "-", "", "-", "-", "does not fit"])
            continue
        sim, s = outcome.reconciliation.simulated, outcome.result.scenario.model.bytes_per_param
        sizes = sorted(sim["message_bytes"], reverse=True)
        size = " / ".join(fmt_count(b // s) for b in sizes) or "-"
        check = {c.name: c for c in outcome.reconciliation.checks}.get("messages")
        rows.append([outcome.result.kind, fmt_count(sim["messages"]), check.formula if check else "", size,
                     fmt_count(sim["total_bytes"] // s), "ok" if outcome.reconciliation.counts_ok else "FAIL"])
    return table(["strategy", "messages", "formula", "params per message", "params sent in total", "counts"], rows)


# family -> (JSON builder, text builder); other families register theirs here.
FORMATS = {"communication": (communication_dict, communication_text), "rematerialization": (remat_dict, remat_text)}
