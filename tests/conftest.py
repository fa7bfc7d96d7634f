"""Shared fixtures: where the staged real history lives, and a scripted strategy for engine tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from simulator.market.arrays import Market
from strategies.base import BarView

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``PMSIM_DATA_DIR`` (CI sets it) or the ``shared/data`` folder beside the checkout."""
    return Path(os.environ.get("PMSIM_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture
def data_dir() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real history not found at {path}; set PMSIM_DATA_DIR to shared/data")
    return path


@dataclass(eq=False)
class Scripted:
    """Targets given bar by bar: ``targets[T, S, N]``; the decision at bar t is ``targets[t]``."""

    targets: np.ndarray
    name: str = "scripted"

    @property
    def n_configs(self) -> int:
        return self.targets.shape[1]

    def prepare(self, market: Market) -> None:
        assert self.targets.shape[0] == market.n_bars

    def decide(self, view: BarView) -> np.ndarray:
        return self.targets[view.t]

    def labels(self) -> list[str]:
        return [f"book {s}" for s in range(self.n_configs)]

    def describe(self) -> dict[str, object]:
        return {"name": self.name}
