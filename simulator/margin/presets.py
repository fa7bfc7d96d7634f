"""Regime presets as data: ``datasets/margin/{kind}_{name}.json``, each a list of dated versions.

A preset file cites its sources and carries ``versions`` with a ``valid_from`` date; the version in
force at a bar is the last one starting at or before it (the first one before any). This module only
reads and validates files; the regimes decide what the numbers mean.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pmsim.simulator.errors import ConfigError, RegimeError
from pmsim.simulator.paths import DATASETS

PRESET_DIR = DATASETS / "margin"


@dataclass(frozen=True, slots=True)
class Preset:
    """A named, cited set of parameter versions (raw JSON mappings, oldest first)."""

    name: str
    source: str
    valid_from: np.ndarray
    versions: tuple[dict[str, Any], ...]
    path: Path

    def version_at(self, when: np.datetime64) -> int:
        """Index of the version in force at ``when``."""
        return max(int(np.searchsorted(self.valid_from, np.datetime64(when, "ms"), side="right")) - 1, 0)


def preset_names(kind: str) -> tuple[str, ...]:
    return tuple(sorted(p.stem[len(kind) + 1 :] for p in PRESET_DIR.glob(f"{kind}_*.json")))


def load_preset(kind: str, name: str) -> Preset:
    """Read ``{kind}_{name}.json``; an unknown name lists the presets there are."""
    if name not in preset_names(kind):
        raise ConfigError.unknown(f"{kind} preset", name, preset_names(kind))
    path = PRESET_DIR / f"{kind}_{name}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        versions = sorted(doc["versions"], key=lambda v: v["valid_from"])
        valid_from = np.array([v["valid_from"] for v in versions], dtype="datetime64[ms]")
        return Preset(doc["name"], doc["source"], valid_from, tuple(versions), path)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise RegimeError(f"{path}: not a preset file ({exc})") from exc
