"""The allocator turns strategy targets into the targets the engine trades, under the account's rules.

First rule: a cap on the margin utilisation ratio MUR = IM / equity. Targets whose IM under the active
regime would exceed ``mur_cap x equity`` are scaled down as a whole (IM never grows faster than size, so
one scaling suffices). Every cut is an event. Staged deployment, the buffer floor and stops compose here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.events import EventLog
from simulator.errors import ConfigError
from simulator.margin.base import Regime
from strategies.base import BarView


@dataclass(frozen=True)
class MurCap:
    """Scale targets so that IM(targets) <= mur_cap x equity at the current marks."""

    mur_cap: float = 0.7

    def __post_init__(self) -> None:
        if not 0 < self.mur_cap <= 1:
            raise ConfigError(f"allocator.mur_cap must be in (0, 1], got {self.mur_cap}")

    def allocate(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        mark = view.mark_close[-1]
        im = regime.requirements(targets, mark, view.time).im
        limit = self.mur_cap * np.maximum(view.equity, 0.0)
        with np.errstate(all="ignore"):
            scale = np.where(im > limit, limit / im, 1.0)
        cut = scale < 1
        log.add("cut", bar, np.flatnonzero(cut), -1, amount=scale[cut], note=f"MUR cap {self.mur_cap:g}")
        return targets * scale[:, None]

    def describe(self) -> dict[str, object]:
        return {"mur_cap": self.mur_cap}
