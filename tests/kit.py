"""Test doubles shared by several test modules (importable, unlike conftest fixtures)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pmsim.simulator.market.arrays import Market
from pmsim.strategies.base import BarView


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
