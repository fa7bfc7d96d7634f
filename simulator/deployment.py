"""Allocator rules that remember the book's history: staged deployment and the drawdown stop.

- ``StagedDeployment`` deploys a growing share of each target in stages (e.g. 25 %, 50 %, 100 %): a
  book moves up a stage only after ``window`` bars in which the whole book behaved (its equity never
  fell more than ``max_drawdown`` below its peak in the stage), and falls back a stage when it does.
- ``DrawdownStop`` is the hard stop: once equity falls ``max_drawdown`` below its running peak, the
  book is closed and stays flat.
State is per book ``[S]`` and starts afresh at bar 0. Every stage change is a ``stage`` event (note
``stages``, ``qty`` +1 advanced / -1 fell back, ``amount`` the share deployed from then on); every stop a
``stop`` event (note ``stop_drawdown``, ``amount`` the drawdown from the peak that triggered it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin.base import Regime
from pmsim.strategies.base import BarView


@dataclass(eq=False)
class StagedDeployment:
    """Scale targets by the book's current stage; advance after a calm window, retreat on a drawdown."""

    stages: tuple[float, ...] = (0.25, 0.5, 1.0)
    window: int = 168
    max_drawdown: float = 0.05
    _stage: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0, dtype=np.intp))
    _since: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0, dtype=np.intp))
    _peak: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        stages = np.asarray(self.stages, dtype=float)
        if stages.size == 0 or np.any(stages <= 0) or np.any(stages > 1) or np.any(np.diff(stages) <= 0):
            raise ConfigError(f"allocator.stages must rise within (0, 1], got {list(self.stages)}")
        if self.window < 1 or not 0 < self.max_drawdown < 1:
            raise ConfigError("allocator.stage_window must be >= 1 and stage_drawdown in (0, 1)")

    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        equity = view.equity
        if bar == 0 or self._stage.shape != equity.shape:
            self._stage = np.zeros(equity.shape, dtype=np.intp)
            self._since = np.zeros(equity.shape, dtype=np.intp)
            self._peak = equity.copy()
        self._peak = np.maximum(self._peak, equity)
        stressed = equity < (1 - self.max_drawdown) * self._peak
        calm = ~stressed & (bar - self._since >= self.window)
        up = calm & (self._stage < len(self.stages) - 1)
        down = stressed & (self._stage > 0)
        changed = up | down | stressed
        self._stage = self._stage + up - down
        self._since = np.where(changed, bar, self._since)
        self._peak = np.where(changed, equity, self._peak)
        share = np.asarray(self.stages)[self._stage]
        for moved, step in ((up, 1.0), (down, -1.0)):
            log.add("stage", bar, np.flatnonzero(moved), -1, qty=step, amount=share[moved], note="stages")
        return targets * share[:, None]

    def describe(self) -> dict[str, object]:
        return {
            "rule": "stages",
            "shares": list(self.stages),
            "window": self.window,
            "drawdown": self.max_drawdown,
        }


@dataclass(eq=False)
class DrawdownStop:
    """Close a book for good once its equity is ``max_drawdown`` below its running peak."""

    max_drawdown: float = 0.25
    _peak: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0))
    _stopped: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if not 0 < self.max_drawdown < 1:
            raise ConfigError(f"allocator.stop_drawdown must be in (0, 1), got {self.max_drawdown}")

    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        equity = view.equity
        if bar == 0 or self._peak.shape != equity.shape:
            self._peak = equity.copy()
            self._stopped = np.zeros(equity.shape, dtype=bool)
        self._peak = np.maximum(self._peak, equity)
        hit = ~self._stopped & (equity < (1 - self.max_drawdown) * self._peak)
        drawdown = 1 - equity[hit] / self._peak[hit]
        log.add("stop", bar, np.flatnonzero(hit), -1, amount=drawdown, note="stop_drawdown")
        self._stopped |= hit
        return np.where(self._stopped[:, None], 0.0, targets)

    def describe(self) -> dict[str, object]:
        return {"rule": "stop_drawdown", "drawdown": self.max_drawdown}
