"""The allocator turns strategy targets into the targets the engine trades, under the rules a config names.

No rule runs unless the config names it (``build.build_allocator``): an empty allocator passes targets
through, so a ``hold`` book is never resized. Rules run in order, each a small object with
``apply(targets, view, regime, bar, log) -> targets`` and ``describe() -> {"rule": name, ...}``:
- ``RebalanceBand``: keep a position whose target moved less than a fraction of it (no fee churn from
  re-sizing to equity every bar);
- ``BufferFloor``: never add risk that takes the buffer (equity / MM) below the floor; what is held is
  never forced down;
- ``MurCap``: MUR = IM / equity after the trade stays within the cap. ``mode = "new_risk"`` (default)
  refuses or cuts only the risk-increasing part of the orders; ``"hold_at"`` scales the whole book back
  to the cap, cutting held positions too.
Staged deployment and the drawdown stop, which remember the book's history, live in
``simulator.deployment``.

Every decision that changes risk is an event whose ``note`` is the rule's name (``mur_cap``,
``buffer_floor``, ``stages``, ``stop_drawdown``), on the account column:
- ``cut``: new risk partly kept; ``qty`` = the fraction of the new risk kept (``hold_at``: of the whole
  book), ``amount`` = the ratio the rule saw for the unrestricted target (MUR, or buffer equity / MM);
- ``rejection``: no new risk fits; ``qty`` = 0, ``amount`` as for a cut.
The band emits nothing: it only leaves a position as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.engine.fills import split_order
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin.base import Regime
from pmsim.strategies.base import BarView

MUR_MODES = ("new_risk", "hold_at")


class Rule(Protocol):
    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray: ...

    def describe(self) -> dict[str, object]: ...


def plain(value: float | np.ndarray) -> float | list[float]:
    """A parameter as JSON: a float, or a list when it is given per book."""
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else arr.tolist()


def log_limited(
    log: EventLog, bar: int, kept: np.ndarray, wanted: np.ndarray, seen: np.ndarray, note: str
) -> None:
    """One ``cut`` (kept < 1) or, where no new risk was kept, ``rejection`` event per book that wanted more.

    ``wanted`` marks books whose orders added risk; a rule that shrinks held books passes ``wanted`` =
    False and records every shrink as a cut.
    """
    rejected = wanted & (kept <= 0)
    cut = (kept < 1) & ~rejected
    log.add("cut", bar, np.flatnonzero(cut), -1, qty=kept[cut], amount=seen[cut], note=note)
    log.add("rejection", bar, np.flatnonzero(rejected), -1, qty=0.0, amount=seen[rejected], note=note)


def limit_new_risk(
    targets: np.ndarray, view: BarView, regime: Regime, which: str, limit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scale the risk-increasing part of ``targets - qty`` so that requirement ``which`` stays in ``limit``.

    Reductions always pass. The kept fraction of the increase interpolates the requirement between the
    book after only the reductions and the full targets (a requirement convex in size then lands at or
    below the limit); an increase that adds no requirement (a hedge) passes. Returns
    (targets, kept[S], wanted[S], need[S]) where ``need`` is the unrestricted targets' requirement.
    """
    mark, qty = view.mark_close[-1], view.qty
    reduce, increase = split_order(qty, targets - qty)
    need = getattr(regime.requirements(targets, mark, view.time), which)
    need_reduced = getattr(regime.requirements(qty + reduce, mark, view.time), which)
    wanted = np.abs(increase).sum(axis=-1) > 0
    with np.errstate(all="ignore"):
        share = np.clip((limit - need_reduced) / (need - need_reduced), 0.0, 1.0)
    kept = np.where(wanted & (need > limit) & (need > need_reduced), share, 1.0)
    return qty + reduce + kept[:, None] * increase, kept, wanted, need


@dataclass(frozen=True)
class RebalanceBand:
    """Keep the current position where the target is on the same side and within ``band x |qty|`` of it."""

    band: float | np.ndarray

    def __post_init__(self) -> None:
        if not np.all((np.asarray(self.band) >= 0) & (np.asarray(self.band) < 1)):
            raise ConfigError(f"allocator.rebalance_band must be in [0, 1), got {plain(self.band)}")

    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        qty, band = view.qty, np.reshape(np.asarray(self.band, dtype=float), (-1, 1))
        close = (np.sign(targets) == np.sign(qty)) & (np.abs(targets - qty) <= band * np.abs(qty))
        return np.where(close, qty, targets)

    def describe(self) -> dict[str, object]:
        return {"rule": "rebalance_band", "band": plain(self.band)}


@dataclass(frozen=True)
class BufferFloor:
    """Refuse new risk that would take equity / MM below ``floor``; what is held is never forced down."""

    floor: float | np.ndarray

    def __post_init__(self) -> None:
        if not np.all(np.asarray(self.floor) >= 1):
            raise ConfigError(f"allocator.buffer_floor must be >= 1, got {plain(self.floor)}")

    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        limit = np.maximum(view.equity, 0.0) / self.floor
        out, kept, wanted, mm = limit_new_risk(targets, view, regime, "mm", limit)
        with np.errstate(divide="ignore", invalid="ignore"):  # a wiped-out book: 0 / 0, never picked
            buffer = np.where(mm > 0, view.equity / mm, np.inf)
        log_limited(log, bar, kept, wanted, buffer, "buffer_floor")
        return out

    def describe(self) -> dict[str, object]:
        return {"rule": "buffer_floor", "floor": plain(self.floor)}


@dataclass(frozen=True)
class MurCap:
    """Keep IM / equity after the trade within ``cap``: refuse new risk, or cut back (``hold_at``)."""

    cap: float | np.ndarray
    mode: str = "new_risk"

    def __post_init__(self) -> None:
        if not np.all((np.asarray(self.cap) > 0) & (np.asarray(self.cap) <= 1)):
            raise ConfigError(f"allocator.mur_cap must be in (0, 1], got {plain(self.cap)}")
        if self.mode not in MUR_MODES:
            raise ConfigError.unknown("allocator.mur_mode", self.mode, MUR_MODES)

    def apply(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        equity = np.maximum(view.equity, 0.0)
        limit = self.cap * equity
        if self.mode == "hold_at":
            im = regime.requirements(targets, view.mark_close[-1], view.time).im
            with np.errstate(all="ignore"):
                kept = np.where(im > limit, limit / im, 1.0)
            out, wanted = targets * kept[:, None], np.zeros(kept.shape, dtype=bool)
        else:
            out, kept, wanted, im = limit_new_risk(targets, view, regime, "im", limit)
        with np.errstate(divide="ignore", invalid="ignore"):
            mur = np.where(im > 0, im / equity, 0.0)
        log_limited(log, bar, kept, wanted, mur, "mur_cap")
        return out

    def describe(self) -> dict[str, object]:
        return {"rule": "mur_cap", "cap": plain(self.cap), "mode": self.mode}


@dataclass(frozen=True)
class Allocator:
    """Apply ``rules`` in order to the strategy's targets (none: the targets pass unchanged)."""

    rules: tuple[Rule, ...] = ()

    def allocate(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray:
        for rule in self.rules:
            targets = rule.apply(targets, view, regime, bar, log)
        return targets

    def describe(self) -> list[dict[str, object]]:
        """The rules in the order they run, each ``{"rule": name, parameter: value, ...}``."""
        return [rule.describe() for rule in self.rules]
