"""What a sweep varied and what it held fixed, read back from its rows: the cluster, the model, the strategies.

A sweep report can be made from a CSV alone, so this is computed from the rows'
input columns (the values the closed forms used), not from the scenario file:
each quantity once, in the unit the scenario gives it (bandwidth in Gbit/s,
latency as a time, FLOP/s in TFLOPS), with "(swept)" where it varied.
"""

from __future__ import annotations

from distsim.fmt import fmt_count, fmt_time

# (group, column, label, how to show one value)
FACTS = (
    ("cluster", "workers", "workers", lambda v: fmt_count(int(v))),
    ("cluster", "topology", "topology", str),
    ("cluster", "network", "network model", str),
    ("cluster", "bandwidth", "bandwidth", lambda v: f"{float(v) * 8 / 1e9:.4g} Gbit/s"),
    ("cluster", "latency", "latency", lambda v: fmt_time(float(v))),
    ("cluster", "flops", "GPU", lambda v: f"{float(v) / 1e12:.4g} TFLOPS"),
    ("model", "params", "parameters", lambda v: fmt_count(int(v))),
)


def swept_facts(rows: list[dict], swept: list[str]) -> dict[str, list[str]]:
    """{'cluster': ['workers 2, 4 (swept)', 'topology switch', ...], 'model': [...], 'strategies': ['ring_allreduce,
    all_to_all (swept)'], 'swept': [...]}: each input once."""
    facts: dict[str, list[str]] = {"cluster": [], "model": [], "strategies": [], "swept": []}
    for group, column, label, show in FACTS:
        values = _values(rows, column)
        if values:
            facts[group].append(f"{label} {', '.join(show(v) for v in values)}" + (" (swept)" if len(values) > 1 else ""))
    sizes = _values(rows, "bytes_per_param")
    if facts["model"] and sizes:
        facts["model"][-1] += f" ({' or '.join(sizes)} bytes each)"
    strategies = _values(rows, "strategy")
    facts["strategies"].append(", ".join(strategies) + (" (swept)" if len(strategies) > 1 else ""))
    facts["swept"] = [f"{path}: {', '.join(_values(rows, path))}" for path in swept]
    return facts


def _values(rows: list[dict], column: str) -> list[str]:
    """The distinct non-empty values of a column, in the order first met (numbers sorted)."""
    seen = list(dict.fromkeys(row.get(column, "") for row in rows if row.get(column, "") != ""))
    try:
        return sorted(seen, key=float)
    except ValueError:
        return seen
