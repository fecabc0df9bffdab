"""A training step as plain data (``--json``) and as text: where the time went, memory by category, the checks.

Every number is read from the reconciliation, whose ``simulated`` side comes from the
trace (analysis/training.py). Times of "the step" are the slowest rank's (the one
that finishes last); with stragglers the per-rank lists show the others. Memory is in
binary units, traffic in decimal ones.
"""

from __future__ import annotations

from distsim.fmt import fmt_bytes, fmt_count, fmt_memory, fmt_time
from distsim.report.tables import check_dicts, check_table, table

CATEGORIES = ("weights", "gradients", "optimizer", "activations", "buffers")


def step_figures(outcome) -> dict:
    """The step's headline numbers, from the slowest rank (the one whose program ends last)."""
    sim = outcome.reconciliation.simulated
    r = max(range(len(sim["end_s"])), key=lambda i: sim["end_s"][i])
    comm, overlap = sim["comm_s"][r], sim["overlap_s"][r]
    kinds = {kind: values[r] for kind, values in sim["seconds_by_kind"].items()}
    memory = sim["memory"]
    top = max(range(len(memory["peak_bytes"])), key=lambda i: memory["peak_bytes"][i])
    return {
        "step_time_s": sim["step_s"],
        "compute_s": sim["compute_s"][r],
        "forward_s": kinds["fwd"],
        "backward_s": kinds["bwd"],
        "recompute_s": kinds["recompute"],
        "optimizer_s": kinds["optimizer"],
        "communication_s": comm,
        "overlapped_s": overlap,
        "exposed_communication_s": sim["exposed_s"][r],
        "overlap_fraction": overlap / comm if comm > 0 else 0.0,
        "mfu": sim["mfu"],
        "memory_peak_bytes": memory["peak_bytes"][top],
        "memory_peak_by_category": memory["peak_by_category"][top],
        "memory_max_by_category": memory["max_by_category"][top],
    }


def training_dict(outcome) -> dict:
    """The JSON object of one training step."""
    result, rec = outcome.result, outcome.reconciliation
    scenario, q, meta = result.scenario, result.strategy.params, result.trace.meta
    head = {
        "strategy": result.kind,
        "family": "training",
        "workers": scenario.cluster.workers,
        "params": sum(result.trace.meta.get("layer_params", [])),
        "zero": q.zero,
        "overlap": q.overlap,
        "bucket_bytes": q.bucket,
        "remat": meta.get("remat", ""),
        "fits": outcome.failure is None,
    }
    if outcome.failure is not None:
        return {**head, "out_of_memory": str(outcome.failure), "ok": False}
    sim = rec.simulated
    return {
        **head,
        "buckets": meta.get("buckets"),
        **step_figures(outcome),
        "messages": sim["messages"],
        "total_bytes": sim["total_bytes"],
        "model_flops": sim["model_flops"],
        "recompute_flops": sim["recompute_flops"],
        "per_rank": {**{key: sim[key] for key in ("end_s", "compute_s", "comm_s", "overlap_s", "exposed_s", "idle_s")},
                     "memory_peak_bytes": sim["memory"]["peak_bytes"],
                     "memory_peak_by_category": sim["memory"]["peak_by_category"]},
        "expected": dict(rec.expected),
        "checks": check_dicts(rec.checks),
        "explanation": rec.notes,
        "payload_verified": result.verified,
        **({"decided": result.facts} if result.facts else {}),
        "wall_time_s": result.wall_seconds,
        "ok": rec.ok,
    }


def training_text(outcome) -> str:
    """The step's breakdown, memory by category, the collectives, and the check table."""
    result, rec = outcome.result, outcome.reconciliation
    if outcome.failure is not None:
        return f"{result.kind}: does not fit: {outcome.failure}"
    f = step_figures(outcome)
    sim, meta = rec.simulated, result.trace.meta
    verified = ("payloads verified: every rank ends with the weights of one big-batch step" if result.verified
                else "sizes only (no payload check)")
    lines = [
        f"{result.kind}: {_setup(result)}: step {fmt_time(f['step_time_s'])}, MFU {100 * f['mfu']:.1f}%  [{verified}]",
        "",
        table(["", "time", "share of the step"], [[name, fmt_time(value), _share(value, f["step_time_s"])] for name, value in (
            ("compute", f["compute_s"]), ("  forward", f["forward_s"]), ("  backward", f["backward_s"]),
            ("  recompute", f["recompute_s"]), ("  optimizer", f["optimizer_s"]), ("communication", f["communication_s"]),
            ("  overlapped with compute", f["overlapped_s"]), ("  exposed", f["exposed_communication_s"]))]),
        "",
        f"memory at the peak ({fmt_memory(f['memory_peak_bytes'])} on the busiest rank{_others(sim)}): "
        + ", ".join(f"{name} {fmt_memory(f['memory_peak_by_category'].get(name, 0))}" for name in CATEGORIES),
        f"collectives: {_algorithms(result.facts)}; {fmt_count(sim['messages'])} messages, {fmt_bytes(sim['total_bytes'])}"
        f" in {meta.get('buckets', 0)} buckets",
        "",
        check_table(rec.checks, _show),
    ]
    if rec.notes:
        lines += [""] + [f"  {note}" for note in rec.notes]
    return "\n".join(lines)


def _others(sim: dict) -> str:
    """'; every rank the same', or the range of the ranks' peaks (per rank in --json)."""
    peaks = sim["memory"]["peak_bytes"]
    if len(set(peaks)) <= 1:
        return "; every rank the same"
    return f"; the least {fmt_memory(min(peaks))}"


def _setup(result) -> str:
    q, meta = result.strategy.params, result.trace.meta
    return (f"ZeRO-{q.zero}, overlap {'on' if q.overlap else 'off'}, "
            + (f"{fmt_memory(q.bucket)} buckets" if q.zero < 3 else "a bucket per layer")
            + f", {meta.get('remat', 'store_all')}")


def _share(value: float, step: float) -> str:
    return f"{100 * value / step:.1f}%" if step > 0 else "-"


def _algorithms(facts: dict) -> str:
    used = facts.get("algorithms", {})
    text = "; ".join(f"{op} by " + ", ".join(f"{name}" for name in counter) for op, counter in used.items()) or "none"
    if facts.get("requested") == "auto" and "algorithm" in facts:
        text += f" (auto; largest buffer: {facts['algorithm']}, predicted {fmt_time(facts['predicted_s'])}"
        if "runner_up" in facts:
            text += f", runner-up {facts['runner_up']} {fmt_time(facts['runner_up_predicted_s'])}"
        text += ")"
    return text


def _show(name: str, value) -> str:
    if isinstance(value, str) or value is None:
        return str(value)
    if "bytes" in name:
        return fmt_memory(value) if name.startswith("peak") else fmt_bytes(value)
    if "FLOPs" in name:
        return f"{value:.6g}"
    if "ops" in name or name == "messages":
        return fmt_count(value)
    return fmt_time(value)


def training_table(outcomes) -> str:
    """Several steps side by side."""
    rows = []
    for outcome in outcomes:
        if outcome.failure is not None:
            rows.append([outcome.result.kind, "", "", "", "", "does not fit"])
            continue
        f = step_figures(outcome)
        rows.append([f"{outcome.result.kind} ({_setup(outcome.result)})", fmt_time(f["step_time_s"]),
                     fmt_time(f["exposed_communication_s"]), f"{100 * f['mfu']:.1f}%", fmt_memory(f["memory_peak_bytes"]),
                     "ok" if outcome.reconciliation.ok else "FAIL"])
    return table(["strategy", "step", "exposed communication", "MFU", "peak memory", "checks"], rows)


def did_not_fit(meta: dict) -> str:
    return "does not fit: " + meta.get("out_of_memory", "out of memory")
