"""Allocator rules that remember the book's history: staged deployment and the drawdown stop.

- ``Stages`` is the state machine of staged deployment, one state per book ``[S]``: a book moves up a
  stage (e.g. 25 % -> 50 % -> 100 %) only after ``window`` bars in which the whole book behaved (its
  equity never fell more than ``drawdown`` below its peak in the stage, and, where the caller reports
  guards, no guard fired), and steps back a stage on a drawdown breach. A guard (a cut, rejection, stop
  or liquidation of the account) restarts the window without stepping back.
- ``StagedDeployment`` is the allocator rule: it scales each target by the book's stage share.
  Sleeve budgets (``simulator.engine.budgets``) drive the same machine with the account's guards.
- ``DrawdownStop`` is the hard stop: once equity falls ``max_drawdown`` below its running peak, the
  book is closed and stays flat.
Every parameter may be given per book (a list over S); ``stages`` then is a list of stage lists, which
may differ in length. State starts afresh at bar 0. Every stage change is a ``stage`` event (``qty`` +1
advanced / -1 stepped back, ``price`` the drawdown from the peak the rule saw, ``amount`` the share
deployed from then on); every stop a ``stop`` event (note ``stop_drawdown``, ``amount`` the drawdown).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin.base import Regime
from pmsim.strategies.base import BarView

StageList = Sequence[float] | Sequence[Sequence[float]]


def stage_table(stages: StageList, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(shares ``[B, K]`` padded with each book's last share, counts ``[B]``) from one list or B lists."""
    nested = [np.ndim(s) > 0 for s in stages]
    if any(nested) and not all(nested):
        raise ConfigError(f"{where} mixes numbers and lists; give one stage list, or one list per book")
    books = [list(s) for s in stages] if any(nested) else [list(stages)]
    for book in books:
        shares = np.asarray(book, dtype=float)
        if shares.size == 0 or np.any(shares <= 0) or np.any(shares > 1) or np.any(np.diff(shares) <= 0):
            raise ConfigError(f"{where} must rise within (0, 1], got {book}")
    width = max(len(book) for book in books)
    table = np.array([[*book, *[book[-1]] * (width - len(book))] for book in books], dtype=float)
    return table, np.array([len(book) for book in books], dtype=np.intp)


@dataclass(eq=False)
class Stages:
    """Per-book stage state: ``step`` once per decision bar, read ``share``."""

    stages: StageList = (0.25, 0.5, 1.0)
    window: int | Sequence[int] = 168
    drawdown: float | Sequence[float] = 0.05
    where: str = "allocator"
    _stage: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0, dtype=np.intp))
    _since: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0, dtype=np.intp))
    _peak: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        self.table_, self.count_ = stage_table(self.stages, f"{self.where}.stages")
        window, drawdown = np.asarray(self.window), np.asarray(self.drawdown, dtype=float)
        if np.any(window < 1) or not np.all((drawdown > 0) & (drawdown < 1)):
            raise ConfigError(f"{self.where}: stage window must be >= 1 and stage drawdown in (0, 1)")

    def step(self, equity: np.ndarray, guard: np.ndarray, bar: int) -> tuple[np.ndarray, np.ndarray]:
        """Advance or step back each book at ``bar`` given its equity and whether a guard fired.

        Returns (move ``[S]``: +1 advanced, -1 stepped back, 0 stayed; drawdown from the peak ``[S]``).
        """
        if bar == 0 or self._stage.shape != equity.shape:
            self._stage = np.zeros(equity.shape, dtype=np.intp)
            self._since = np.zeros(equity.shape, dtype=np.intp)
            self._peak = equity.copy()
        self._peak = np.maximum(self._peak, equity)
        with np.errstate(divide="ignore", invalid="ignore"):
            drawdown = np.where(self._peak > 0, 1 - equity / self._peak, 0.0)
        stressed = drawdown > self.drawdown
        calm = ~stressed & ~guard & (bar - self._since >= self.window)
        up = calm & (self._stage < np.broadcast_to(self.count_, equity.shape) - 1)
        down = stressed & (self._stage > 0)
        restart = up | stressed | guard
        self._stage = self._stage + up - down
        self._since = np.where(restart, bar, self._since)
        self._peak = np.where(up | stressed, equity, self._peak)
        return up.astype(int) - down, drawdown

    @property
    def share(self) -> np.ndarray:
        """[S] share deployed at each book's current stage."""
        rows = np.broadcast_to(np.arange(len(self.table_)), self._stage.shape) if len(self.table_) > 1 else 0
        return self.table_[rows, self._stage]

    def log(
        self, log: EventLog, bar: int, move: np.ndarray, drawdown: np.ndarray, note: str, sleeve: str = ""
    ) -> None:
        share = self.share
        moved = np.flatnonzero(move)
        log.add("stage", bar, moved, -1, move[moved], drawdown[moved], share[moved], note, sleeve)

    def describe(self) -> dict[str, object]:
        return {
            "shares": self.table_[0, : self.count_[0]].tolist()
            if len(self.table_) == 1
            else [row[:n].tolist() for row, n in zip(self.table_, self.count_, strict=True)],
            "window": np.asarray(self.window).tolist(),
            "drawdown": np.asarray(self.drawdown).tolist(),
        }


@dataclass(eq=False)
class StagedDeployment:
    """Scale targets by the book's current stage; advance after a calm window, retreat on a drawdown."""

    stages: StageList = (0.25, 0.5, 1.0)
    window: int | Sequence[int] = 168
    max_drawdown: float | Sequence[float] = 0.05

    def __post_init__(self) -> None:
        self.machine_ = Stages(self.stages, self.window, self.max_drawdown)

    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        guard = np.zeros(view.equity.shape, dtype=bool)
        move, drawdown = self.machine_.step(view.equity, guard, bar)
        self.machine_.log(log, bar, move, drawdown, "stages")
        return targets * self.machine_.share[:, None]

    def describe(self) -> dict[str, object]:
        return {"rule": "stages", **self.machine_.describe()}


@dataclass(eq=False)
class DrawdownStop:
    """Close a book for good once its equity is ``max_drawdown`` below its running peak."""

    max_drawdown: float | Sequence[float] = 0.25
    _peak: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0))
    _stopped: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        drawdown = np.asarray(self.max_drawdown, dtype=float)
        if not np.all((drawdown > 0) & (drawdown < 1)):
            raise ConfigError(f"allocator.stop_drawdown must be in (0, 1), got {drawdown.tolist()}")

    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        equity = view.equity
        if bar == 0 or self._peak.shape != equity.shape:
            self._peak = equity.copy()
            self._stopped = np.zeros(equity.shape, dtype=bool)
        self._peak = np.maximum(self._peak, equity)
        hit = ~self._stopped & (equity < (1 - np.asarray(self.max_drawdown)) * self._peak)
        drawdown = 1 - equity[hit] / self._peak[hit]
        log.add("stop", bar, np.flatnonzero(hit), -1, amount=drawdown, note="stop_drawdown")
        self._stopped |= hit
        return np.where(self._stopped[:, None], 0.0, targets)

    def describe(self) -> dict[str, object]:
        return {"rule": "stop_drawdown", "drawdown": np.asarray(self.max_drawdown).tolist()}
