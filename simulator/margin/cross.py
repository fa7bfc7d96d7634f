"""Cross margin: every position is margined by its bracket and the sums back the whole account.

IM of a position = notional / leverage, with the leverage setting capped at the tier's maximum;
MM = notional x MMR - cum (Binance USDⓈ-M). The account is liquidated as a whole when equity < sum MM.
Also here: Binance's per-symbol cross liquidation prices (for display), whose formula includes the
other positions' MM and unrealised PnL (docs/margin-regimes.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin.base import INSTANTS_KEPT, Requirements
from pmsim.simulator.margin.brackets import BracketArrays, BracketBook
from pmsim.simulator.margin.liqprice import binance_liquidation_price
from pmsim.simulator.margin.reduction import cross_partial_reduction
from pmsim.simulator.market.instruments import Instrument
from pmsim.simulator.numeric import zero_nan


@dataclass(eq=False)
class TieredRegime:
    """Shared machinery of the bracket-based regimes: tier arrays of the table in force, cached by date.

    ``leverage`` is one setting or one per instrument ``[N]``; ``overrides`` maps a symbol to a flat
    ``(mmr, cum)`` that replaces its bracket table (the what-if calculator's per-position override).
    """

    instruments: tuple[Instrument, ...]
    brackets: BracketBook
    leverage: float | np.ndarray = 20.0
    overrides: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    _cache: dict[int, BracketArrays] = field(default_factory=dict, init=False, repr=False)
    _instants: dict[np.datetime64, BracketArrays] = field(default_factory=dict, init=False, repr=False)
    liquidates: ClassVar[str] = "account"

    def __post_init__(self) -> None:
        if not np.all(np.asarray(self.leverage) > 0):
            raise ConfigError(f"regime.leverage must be positive, got {self.leverage}")
        symbols = [i.symbol for i in self.instruments]
        unknown = sorted(set(self.overrides) - set(symbols))
        if unknown:
            raise ConfigError.unknown("bracket override symbol", unknown[0], symbols)
        self._changes = self.brackets.change_instants()

    def arrays_at(self, when: np.datetime64) -> BracketArrays:
        """The tier arrays in force at ``when``; a bar asks the same few instants many times."""
        when = np.datetime64(when, "ms")
        arrays = self._instants.get(when)
        if arrays is None:
            if len(self._instants) >= INSTANTS_KEPT:
                self._instants.clear()
            arrays = self._instants[when] = self._epoch_arrays(when)
        return arrays

    def _epoch_arrays(self, when: np.datetime64) -> BracketArrays:
        epoch = int(np.searchsorted(self._changes, when, side="right"))
        if epoch not in self._cache:
            anchor = self._changes[epoch - 1] if epoch > 0 else when
            arrays = self.brackets.arrays(self.instruments, anchor)
            for n, instrument in enumerate(self.instruments):
                if instrument.symbol in self.overrides:
                    arrays = arrays.with_flat_tier(n, *self.overrides[instrument.symbol])
            self._cache[epoch] = arrays
        return self._cache[epoch]

    def position_requirements(
        self, qty: np.ndarray, mark: np.ndarray, when: np.datetime64
    ) -> tuple[np.ndarray, np.ndarray]:
        """(im_pos, mm_pos) ``[S, N]`` of each position alone."""
        notional = np.abs(qty) * zero_nan(mark)
        mm, max_leverage = self.arrays_at(when).lookup(notional)
        return notional / np.minimum(self.leverage, max_leverage), mm

    def requirements(self, qty: np.ndarray, mark: np.ndarray, when: np.datetime64) -> Requirements:
        im_pos, mm_pos = self.position_requirements(qty, mark, when)
        return Requirements(im=im_pos.sum(axis=-1), mm=mm_pos.sum(axis=-1), im_pos=im_pos, mm_pos=mm_pos)

    def partial_reduction(
        self, qty: np.ndarray, mark: np.ndarray, equity: np.ndarray, when: np.datetime64, fee_rate: float
    ) -> np.ndarray:
        """Binance's smart liquidation: step every position down a tier at a time (``reduction.py``)."""
        breach = np.ones(len(equity), dtype=bool)
        return cross_partial_reduction(qty, mark, equity, self.arrays_at(when), fee_rate, breach)

    def describe(self) -> dict[str, object]:
        return {
            "name": getattr(self, "name", ""),
            "leverage": np.asarray(self.leverage).tolist(),
            "brackets": self.brackets.source,
            "overrides": {k: list(v) for k, v in self.overrides.items()},
        }


@dataclass(eq=False)
class CrossRegime(TieredRegime):
    """Cross margin with venue brackets: requirements are summed position by position."""

    name: str = "cross"


def cross_liquidation_prices(
    qty: np.ndarray, entry: np.ndarray, wallet: np.ndarray, mark: np.ndarray, tiers: BracketArrays
) -> np.ndarray:
    """Binance cross liquidation price of each symbol ``[S, N]`` (NaN where flat or none exists).

    Parameters
    ----------
    qty : [S, N] signed contracts; entry : [S, N] entry prices; wallet : [S] cross wallet balance;
    mark : [N] or [S, N] marks at which the *other* positions' MM (TMM1) and PnL (UPNL1) are taken.

    ``LP_n = (WB - TMM1 + UPNL1 + cum - s Q EP) / (Q MMR - s Q)`` with the bracket at the LP notional.
    """
    mark = zero_nan(np.broadcast_to(mark, np.shape(qty)))
    mm_pos = tiers.maintenance(np.abs(qty) * mark)
    upnl_pos = qty * (mark - entry)
    others = (upnl_pos.sum(axis=-1, keepdims=True) - upnl_pos) - (mm_pos.sum(axis=-1, keepdims=True) - mm_pos)
    return binance_liquidation_price(qty, entry, np.asarray(wallet, dtype=float)[..., None] + others, tiers)
