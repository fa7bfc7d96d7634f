"""Isolated margin: each position is backed by its own wallet and liquidated on its own.

Requirements per position are the cross brackets (``im_pos``, ``mm_pos``). The isolated wallet of a
position (IM at entry + added margin - fees +/- funding) is engine state; the pure functions here
turn it into Binance's isolated liquidation price and an intrabar breach test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pmsim.simulator.margin.brackets import BracketArrays
from pmsim.simulator.margin.cross import TieredRegime
from pmsim.simulator.margin.liqprice import binance_liquidation_price
from pmsim.simulator.numeric import zero_nan


@dataclass(eq=False)
class IsolatedRegime(TieredRegime):
    """Isolated margin with venue brackets; ``im``/``mm`` are the sums of ``im_pos``/``mm_pos``.

    Positions are liquidated one by one, always in full: a partial reduction keeps nothing.
    """

    name: str = "isolated"
    liquidates: ClassVar[str] = "position"

    def partial_reduction(
        self, qty: np.ndarray, mark: np.ndarray, equity: np.ndarray, when: np.datetime64, fee_rate: float
    ) -> np.ndarray:
        return np.zeros_like(np.asarray(qty, dtype=float))


def isolated_liquidation_price(
    qty: np.ndarray, entry: np.ndarray, iso_wallet: np.ndarray, tiers: BracketArrays
) -> np.ndarray:
    """Binance isolated liquidation price ``[S, N]`` (NaN where flat or none exists).

    long ``LP = (Q EP - W - cum) / (Q (1 - MMR))``, short ``LP = (Q EP + W + cum) / (Q (1 + MMR))``
    with ``W = iso_wallet[S, N]`` and the bracket at the LP notional (docs/margin-regimes.md).
    """
    return binance_liquidation_price(qty, entry, iso_wallet, tiers)


def isolated_breach(
    qty: np.ndarray,
    entry: np.ndarray,
    iso_wallet: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    tiers: BracketArrays,
) -> np.ndarray:
    """True ``[S, N]`` where a position's isolated margin falls below its MM inside the bar.

    Parameters
    ----------
    qty, entry, iso_wallet : [S, N]; low, high : [N] or [S, N] bar mark extremes.
    The adverse extreme is ``low`` for longs and ``high`` for shorts; the test is
    ``iso_wallet + qty (P - entry) < MM(|qty| P)``, the same condition as ``P`` crossing the LP.
    """
    adverse = zero_nan(np.where(qty > 0, low, high))
    margin = iso_wallet + qty * (adverse - entry)
    return (qty != 0) & (margin < tiers.maintenance(np.abs(qty) * adverse))
