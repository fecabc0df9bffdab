"""Layers import downward only; checked on the source, so a stray import fails here first."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "distsim"

# package -> distsim packages it must never import
FORBIDDEN = {
    "trace": {"scenario", "hardware", "engine", "strategies", "analysis", "report", "cli", "api", "runner"},
    "scenario": {"hardware", "engine", "strategies", "analysis", "report", "cli", "api", "runner"},
    "hardware": {"engine", "strategies", "analysis", "report", "cli", "api", "runner"},
    "engine": {"strategies", "analysis", "report", "cli", "api", "runner"},
    "strategies": {"analysis", "report", "cli", "api", "runner"},
    "collectives": {"strategies", "analysis", "report", "cli", "api", "runner", "remat", "sweep", "scenario"},
    "analysis": {"engine", "strategies", "collectives", "report", "cli", "api", "runner", "remat"},
    "report": {"engine", "collectives", "cli", "runner"},
    "remat": {"cli", "api", "report", "sweep"},
    "sweep": {"cli"},
    "bench": {"cli"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("distsim."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("distsim.")}
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_lower_layers(package):
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imports_of(path) & FORBIDDEN[package])
        for path in (PACKAGE / package).rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}
