"""The allocator turns strategy targets into the targets the engine trades, under the account's rules.

Rules run in order, each a small object with ``apply(targets, view, regime, bar, log) -> targets``:
- ``RebalanceBand``: keep a position whose target moved less than a fraction of it (no fee churn from
  re-sizing to equity every bar);
- ``BufferFloor``: never add risk that takes the buffer (equity / MM) below the floor (1.2 by default);
- ``MurCap``: the margin utilisation ratio MUR = IM / equity after the trade must stay within the cap;
  targets whose IM under the active regime exceeds ``mur_cap x equity`` are scaled down as a whole (IM
  never grows faster than size, so one scaling suffices).
Staged deployment and the drawdown stop, which remember the book's history, live in
``simulator.deployment``. Every cut is an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin.base import Regime
from pmsim.strategies.base import BarView


class Rule(Protocol):
    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray: ...

    def describe(self) -> dict[str, object]: ...


def scale_within(
    targets: np.ndarray, need: np.ndarray, limit: np.ndarray, bar: int, log: EventLog, note: str
) -> np.ndarray:
    """Scale each book's targets by ``limit / need`` where the need ``[S]`` exceeds it; record the cuts."""
    with np.errstate(all="ignore"):
        scale = np.where(need > limit, limit / need, 1.0)
    cut = scale < 1
    log.add("cut", bar, np.flatnonzero(cut), -1, amount=scale[cut], note=note)
    return targets * scale[:, None]


@dataclass(frozen=True)
class RebalanceBand:
    """Keep the current position where the target is on the same side and within ``band x |qty|`` of it."""

    band: float = 0.1

    def __post_init__(self) -> None:
        if not 0 <= self.band < 1:
            raise ConfigError(f"allocator.rebalance_band must be in [0, 1), got {self.band}")

    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        qty = view.qty
        close = (np.sign(targets) == np.sign(qty)) & (np.abs(targets - qty) <= self.band * np.abs(qty))
        return np.where(close, qty, targets)

    def describe(self) -> dict[str, object]:
        return {"rebalance_band": self.band}


@dataclass(frozen=True)
class BufferFloor:
    """Refuse new risk that would take equity / MM below ``floor``; existing risk is never forced down.

    Targets whose MM exceeds ``equity / floor`` and the current book's MM are scaled to the larger of the
    two (MM grows at least as fast as size within a tier, so scaling the book by f scales MM by <= f).
    """

    floor: float = 1.2

    def __post_init__(self) -> None:
        if not self.floor >= 1:
            raise ConfigError(f"allocator.buffer_floor must be >= 1, got {self.floor}")

    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        mark = view.mark_close[-1]
        mm_target = regime.requirements(targets, mark, view.time).mm
        mm_now = regime.requirements(view.qty, mark, view.time).mm
        allowed = np.maximum(np.maximum(view.equity, 0.0) / self.floor, mm_now)
        return scale_within(targets, mm_target, allowed, bar, log, f"buffer floor {self.floor:g}")

    def describe(self) -> dict[str, object]:
        return {"buffer_floor": self.floor}


@dataclass(frozen=True)
class MurCap:
    """Scale targets so that IM(targets) <= mur_cap x equity at the current marks."""

    mur_cap: float = 0.7

    def __post_init__(self) -> None:
        if not 0 < self.mur_cap <= 1:
            raise ConfigError(f"allocator.mur_cap must be in (0, 1], got {self.mur_cap}")

    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        mark = view.mark_close[-1]
        im = regime.requirements(targets, mark, view.time).im
        limit = self.mur_cap * np.maximum(view.equity, 0.0)
        return scale_within(targets, im, limit, bar, log, f"MUR cap {self.mur_cap:g}")

    def describe(self) -> dict[str, object]:
        return {"mur_cap": self.mur_cap}


@dataclass(frozen=True)
class Allocator:
    """Apply ``rules`` in order to the strategy's targets."""

    rules: tuple[Rule, ...] = (RebalanceBand(), MurCap())

    def allocate(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        for rule in self.rules:
            targets = rule.apply(targets, view, regime, bar, log)
        return targets

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for rule in self.rules:
            out.update(rule.describe())
        return out
