"""Named clusters and models shipped with distsim (``cluster: {preset: dgx-h100}``, ``model: {preset:
gpt-7b}``), read from ``presets/*.yaml`` and ``models/*.yaml``.

A preset file is a ``cluster:`` (or ``model:``) section in scenario syntax, with a summary and the
sources of its figures. It is merged *under* what the scenario writes, key by key
(as ``extends:`` merges a base), so any field written in the scenario overrides the
preset's and ``key: null`` removes one. The files are data, not code: a new preset
is a new file, and ``tests/test_cluster_presets.py`` checks every file.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Literal

from distsim.scenario.extends import merge
from distsim.scenario.source import Locations, load_yaml, read_source

PRESET_DIR = Path(__file__).resolve().parent / "presets"
MODEL_PRESET_DIR = Path(__file__).resolve().parent / "models"
PRESET_KEYS = ("summary", "sources", "cluster")
MODEL_PRESET_KEYS = ("summary", "sources", "model")


def preset_names(directory: Path = PRESET_DIR) -> tuple[str, ...]:
    """Every shipped preset, by name (the file name without ``.yaml``), sorted."""
    return tuple(sorted(path.stem for path in directory.glob("*.yaml")))


PresetName = Literal.__getitem__(preset_names())  # JSON Schema lists them; a typo gets "did you mean"
ModelPresetName = Literal.__getitem__(preset_names(MODEL_PRESET_DIR))


@lru_cache(maxsize=None)
def preset_file(name: str, directory: Path = PRESET_DIR) -> dict:
    """The whole preset file ``name`` as plain data (summary, sources, cluster or model)."""
    data, _ = load_yaml(read_source(directory / f"{name}.yaml"), str(directory / f"{name}.yaml"))
    return data


def with_preset(written: dict, section: str = "cluster", directory: Path = PRESET_DIR) -> dict:
    """A ``cluster`` (or ``model``) section as written, merged over its preset's (unchanged without a known preset)."""
    name = written.get("preset")
    if not isinstance(name, str) or name not in preset_names(directory):
        return written  # no preset, or one that validation will report
    base = {section: copy.deepcopy(preset_file(name, directory)[section])}
    merged, _ = merge(base, Locations(name), {section: written}, Locations(name))
    return merged[section]
