"""Named clusters shipped with distsim (``cluster: {preset: dgx-h100}``), read from ``presets/*.yaml``.

A preset file is a ``cluster:`` section in scenario syntax, with a summary and the
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
PRESET_KEYS = ("summary", "sources", "cluster")


def preset_names() -> tuple[str, ...]:
    """Every shipped preset, by name (the file name without ``.yaml``), sorted."""
    return tuple(sorted(path.stem for path in PRESET_DIR.glob("*.yaml")))


PresetName = Literal.__getitem__(preset_names())  # JSON Schema lists them; a typo gets "did you mean"


@lru_cache(maxsize=None)
def preset_file(name: str) -> dict:
    """The whole preset file ``name`` as plain data (summary, sources, cluster)."""
    data, _ = load_yaml(read_source(PRESET_DIR / f"{name}.yaml"), str(PRESET_DIR / f"{name}.yaml"))
    return data


def with_preset(cluster: dict) -> dict:
    """``cluster`` as written, merged over its preset's cluster section (unchanged without a known preset)."""
    name = cluster.get("preset")
    if not isinstance(name, str) or name not in preset_names():
        return cluster  # no preset, or one that validation will report
    base = {"cluster": copy.deepcopy(preset_file(name)["cluster"])}
    merged, _ = merge(base, Locations(name), {"cluster": cluster}, Locations(name))
    return merged["cluster"]
