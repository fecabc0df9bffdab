"""A rematerialization run as plain data (``--json``) and as text: counts, times, memory, checks.

Every number is read from the reconciliation, whose ``simulated`` side comes
from the op trace. Every size here is memory, in binary units (MiB, GiB: ``fmt_memory``). ``fwd_ops`` is the exam's count: forward ops run during the
backward pass (recomputation); the initial forward pass is ``forward_pass_ops``.
"""

from __future__ import annotations

from distsim.report.tables import check_table, table
from distsim.fmt import fmt_memory, fmt_count, fmt_time

COUNTS = ("fwd_ops", "forward_pass_ops", "bwd_ops", "loadmem_ops", "loaddisk_ops", "storemem_ops", "storedisk_ops")


def remat_dict(outcome) -> dict:
    """The JSON object of one schedule's run."""
    result, rec = outcome.result, outcome.reconciliation
    sim, meta = rec.simulated, result.trace.meta
    layers = meta["layers"]
    head = {
        "schedule": result.kind,
        "family": "rematerialization",
        "layers": layers,
        "params": dict(meta.get("schedule_params", {})),
        "input_load": meta.get("input_load", False),
        "plan": meta.get("schedule", ""),
        "fits": outcome.failure is None,
    }
    if outcome.failure is not None:
        return {**head, **_no_fit(meta), "ok": False}
    return {
        **head,
        **{key: sim[key] for key in COUNTS},
        "stored_activations": sim["stored_activations"],
        "checkpoints_held_max": sim["checkpoints_held_max"],
        "backward_time_s": sim["backward_time_s"],
        "forward_time_s": sim["forward_time_s"],
        "break_even_loaddisk_s": (sim["backward_time_s"] - sim["bwd_compute_s"]) / layers,
        "peak_activation_bytes": sim["peak_activation_bytes"],
        "disk_peak_bytes": sim["disk_peak_bytes"],
        "expected": dict(rec.expected),
        "checks": [
            {"name": c.name, "expected": c.expected, "simulated": c.simulated, "ok": c.ok,
             "status": c.status, "formula": c.formula, "source": c.source}
            for c in rec.checks
        ],
        "explanation": rec.notes,
        "gradients_verified": result.verified,
        "wall_time_s": result.wall_seconds,
        "ok": rec.ok,
    }


def _no_fit(meta: dict) -> dict:
    """What is known of a schedule that ran out of memory: where, and what it would need."""
    known = {"out_of_memory": meta["out_of_memory"], "memory_bytes": meta["memory_bytes"]}
    if "peak_needed_bytes" in meta:
        known["peak_needed_bytes"] = meta["peak_needed_bytes"]
    return known


def does_not_fit(meta: dict) -> str:
    """'does not fit: needs 3.125 GiB of activations at its peak, the device has 1 GiB' (or the disk)."""
    if "peak_needed_bytes" in meta:
        return (f"does not fit: needs {fmt_memory(meta['peak_needed_bytes'])} of activations at its peak, "
                f"the device has {fmt_memory(meta['memory_bytes'])}")
    return "does not fit: the disk is full"


def remat_text(outcome) -> str:
    """Summary lines and the check table of one schedule's run."""
    result, rec = outcome.result, outcome.reconciliation
    sim, meta = rec.simulated, result.trace.meta
    if outcome.failure is not None:
        return (f"{result.kind}: {does_not_fit(meta)}\n  plan: {meta.get('schedule', '')}\n"
                f"  {meta['out_of_memory']}")
    verified = ("gradients verified: equal to plain backpropagation's on a real MLP" if result.verified
                else "gradients not checked (run.verify_payload: false, or a very long schedule)")
    lines = [
        f"{result.kind}: backward pass {fmt_time(sim['backward_time_s'])}: {fmt_count(sim['fwd_ops'])} fwd (recomputation), "
        f"{fmt_count(sim['bwd_ops'])} bwd, {fmt_count(sim['loadmem_ops'])} loadmem, {fmt_count(sim['loaddisk_ops'])} loaddisk; "
        f"peak activations {fmt_memory(sim['peak_activation_bytes'])}  [{verified}]",
        f"  plan: {meta.get('schedule', '')}",
        f"  forward pass {fmt_time(sim['forward_time_s'])}: {fmt_count(sim['forward_pass_ops'])} fwd, "
        f"{fmt_count(sim['stored_activations'])} activations stored in memory, {fmt_count(sim['storedisk_ops'])} on disk",
    ]
    if not sim["loaddisk_ops"]:
        even = (sim["backward_time_s"] - sim["bwd_compute_s"]) / meta["layers"]
        lines.append(f"  break-even loaddisk: {fmt_time(even)} (recomputation and loads / {meta['layers']} layers): "
                     "a disk slower than this loses to this schedule")
    lines += ["", check_table(rec.checks, _show)]
    if rec.notes:
        lines += [""] + [f"  {note}" for note in rec.notes]
    return "\n".join(lines)


def _show(name: str, value) -> str:
    if "time" in name or "latency" in name:
        return fmt_time(value)
    if "bytes" in name:
        return fmt_memory(value)
    return fmt_count(value)


def remat_table(outcomes) -> str:
    """Several schedules on one chain, side by side, from their simulated traces."""
    rows = []
    for outcome in outcomes:
        if outcome.failure is not None:
            meta = outcome.trace.meta
            needed = fmt_memory(meta["peak_needed_bytes"]) if "peak_needed_bytes" in meta else "-"
            rows.append([outcome.result.kind, "", "", "", "", f"{needed} needed", "does not fit"])
            continue
        sim = outcome.reconciliation.simulated
        rows.append([outcome.result.kind, fmt_count(sim["fwd_ops"]), fmt_count(sim["loadmem_ops"]),
                     fmt_count(sim["loaddisk_ops"]), fmt_time(sim["backward_time_s"]),
                     fmt_memory(sim["peak_activation_bytes"]), "ok" if outcome.reconciliation.ok else "FAIL"])
    return table(["schedule", "fwd (recompute)", "loadmem", "loaddisk", "backward time", "peak activations", "checks"], rows)


def remat_describe(scenario, path) -> str:
    """The first line of ``distsim run`` for a layer chain."""
    model, memory, disk = scenario.model, scenario.cluster.memory, scenario.cluster.disk
    layers = len(model.per_layer) if getattr(model, "per_layer", None) else model.layers
    return (
        f"{path}: a chain of {layers} layers on one worker ({fmt_memory(scenario.cluster.gpu.memory)} of memory); "
        f"loadmem {fmt_time(memory.load_latency)}, loaddisk {fmt_time(disk.load_latency)}"
    )
