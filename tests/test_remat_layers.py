"""The rematerialization code keeps to its layers (checked on the source, like tests/test_layers.py).

Strategies may build schedules (``distsim.remat``, the data model) but never run
them; the remat package never reaches up to the API, the CLI or the reports.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "distsim"


def modules_imported(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("distsim"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("distsim")}
    return found


def test_remat_never_imports_api_cli_or_reports():
    for path in (PACKAGE / "remat").glob("*.py"):
        bad = {m for m in modules_imported(path) if m.split(".")[1:2] in (["api"], ["cli"], ["report"])}
        assert not bad, (path.name, bad)


def test_strategies_only_use_the_schedule_data_model():
    for path in (PACKAGE / "strategies").glob("*.py"):
        remat = {m for m in modules_imported(path) if m.startswith("distsim.remat")}
        assert remat <= {"distsim.remat"}, (path.name, remat)


def test_the_remat_package_init_imports_only_the_data_model():
    assert modules_imported(PACKAGE / "remat" / "__init__.py") == {"distsim.remat.schedule"}
    assert modules_imported(PACKAGE / "remat" / "schedule.py") == {"distsim.errors"}


def test_the_closed_forms_know_nothing_of_schedules_or_executors():
    imported = modules_imported(PACKAGE / "analysis" / "remat.py")
    assert not {m for m in imported if m.startswith(("distsim.strategies", "distsim.remat", "distsim.engine"))}
