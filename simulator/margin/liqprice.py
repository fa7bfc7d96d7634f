"""Binance's USDⓈ-M liquidation-price formula with the bracket taken at the liquidation notional.

One-way mode, one position per symbol (docs/margin-regimes.md, Binance FAQ b3c689c1...):
``LP = (B + cum - s Q EP) / (Q MMR - s Q)`` where ``B`` is the balance backing the position
(isolated: its isolated wallet; cross: ``WB - TMM1 + UPNL1``). Every tier is tried and the one whose
``[floor, cap)`` holds ``Q x LP`` is kept (COIN-M FAQ ceccfcfb...: "calculated at the liquidation
price"). Pure array code: the isolated and cross modules call it with their own balances.
"""

from __future__ import annotations

import numpy as np
from pmsim.simulator.margin.brackets import BracketArrays


def binance_liquidation_price(
    qty: np.ndarray, entry: np.ndarray, balance: np.ndarray, tiers: BracketArrays
) -> np.ndarray:
    """Liquidation price ``[S, N]`` (NaN where flat or where no positive price liquidates).

    Parameters
    ----------
    qty : [S, N] signed contracts; entry : [S, N] entry prices; balance : [S, N] margin backing each
    position; tiers : brackets of the N instruments (``[N, B]``).
    """
    size = np.abs(qty)[..., None]
    side = np.sign(qty)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        price = (balance[..., None] + tiers.cum - side * size * entry[..., None]) / (
            size * (tiers.mmr - side)
        )
        notional = size * price
        fits = (notional >= tiers.floor) & (notional < tiers.cap) & (price > 0) & (size > 0)
    first = np.argmax(fits, axis=-1)
    chosen = np.take_along_axis(price, first[..., None], axis=-1)[..., 0]
    return np.where(fits.any(axis=-1), chosen, np.nan)
