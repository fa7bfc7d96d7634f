"""Cross margin: every position is margined by its bracket and the sums back the whole account.

IM of a position = notional / leverage, with the leverage setting capped at the tier's maximum;
MM = notional x MMR - cum (Binance USDⓈ-M). The account is liquidated as a whole when equity < sum MM.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.errors import ConfigError
from simulator.margin.base import Requirements
from simulator.margin.brackets import BracketArrays, BracketBook
from simulator.market.instruments import Instrument


@dataclass(eq=False)
class TieredRegime:
    """Shared machinery of the bracket-based regimes: tier arrays of the table in force, cached by date."""

    instruments: tuple[Instrument, ...]
    brackets: BracketBook
    leverage: float = 20.0
    _cache: dict[int, BracketArrays] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.leverage > 0:
            raise ConfigError(f"regime.leverage must be positive, got {self.leverage}")
        self._changes = self.brackets.change_instants()

    def arrays_at(self, when: np.datetime64) -> BracketArrays:
        epoch = int(np.searchsorted(self._changes, np.datetime64(when, "ms"), side="right"))
        if epoch not in self._cache:
            anchor = self._changes[epoch - 1] if epoch > 0 else np.datetime64(when, "ms")
            self._cache[epoch] = self.brackets.arrays(self.instruments, anchor)
        return self._cache[epoch]

    def position_requirements(
        self, qty: np.ndarray, mark: np.ndarray, when: np.datetime64
    ) -> tuple[np.ndarray, np.ndarray]:
        """(im_pos, mm_pos) ``[S, N]`` of each position alone."""
        notional = np.abs(qty) * np.nan_to_num(mark)
        tiers = self.arrays_at(when)
        leverage = np.minimum(self.leverage, tiers.max_leverage_at(notional))
        return notional / leverage, tiers.maintenance(notional)

    def describe(self) -> dict[str, object]:
        return {"name": getattr(self, "name", ""), "leverage": self.leverage, "brackets": self.brackets.source}


@dataclass(eq=False)
class CrossRegime(TieredRegime):
    """Cross margin with venue brackets: requirements are summed position by position."""

    name: str = "cross"

    def requirements(self, qty: np.ndarray, mark: np.ndarray, when: np.datetime64) -> Requirements:
        im_pos, mm_pos = self.position_requirements(qty, mark, when)
        return Requirements(im=im_pos.sum(axis=-1), mm=mm_pos.sum(axis=-1), im_pos=im_pos, mm_pos=mm_pos)
