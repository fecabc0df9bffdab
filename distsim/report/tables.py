"""Plain-text tables: the one table layout every report and benchmark uses."""

from __future__ import annotations


def table(header: list[str], rows: list[list]) -> str:
    """Left-aligned columns under a header and a rule."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt.format(*header), rule] + [fmt.format(*map(str, row)).rstrip() for row in rows])


def check_dicts(checks) -> list[dict]:
    """The checks of a reconciliation as JSON objects (the ``checks`` of a run's ``--json``)."""
    return [{"name": c.name, "expected": c.expected, "simulated": c.simulated, "ok": c.ok, "status": c.status,
             "formula": c.formula, "source": c.source} for c in checks]


def check_table(checks, show) -> str:
    """The expected-vs-simulated table of a reconciliation; ``show(name, value)`` formats a value."""
    return table(
        ["check", "expected", "simulated", "status", "formula"],
        [[c.name, show(c.name, c.expected), show(c.name, c.simulated), c.status, c.formula] for c in checks],
    )
