"""The 2^U corners of a mark bar, where account-wide regimes look for breaches.

Within a bar each underlying's mark touches its low and its high, in an unknown order. For every
combination of extremes (2^U points for U underlyings) the account's equity and maintenance margin are
evaluated at once; the worst corner (least equity - MM) is where a breach is settled
(``simulator.engine.policies``).
"""

from __future__ import annotations

import itertools

import numpy as np
from pmsim.simulator.engine.account import Account
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.numeric import zero_nan


def corner_prices(low: np.ndarray, high: np.ndarray, underlying_index: np.ndarray) -> np.ndarray:
    """[C, N] prices at each of the C = 2^U combinations of per-underlying low/high.

    Instruments of one underlying move together: all take their low, or all their high.
    """
    n_under = int(underlying_index.max()) + 1 if underlying_index.size else 0
    bits = np.array(list(itertools.product((0, 1), repeat=n_under)), dtype=bool).reshape(-1, n_under)
    use_high = bits[:, underlying_index]  # [C, N]
    return np.where(use_high, high[None, :], low[None, :])


def worst_corner(
    account: Account, regime: Regime, corners: np.ndarray, when: np.datetime64
) -> tuple[np.ndarray, np.ndarray]:
    """Per book: (index of the corner with least equity - MM ``[S]``, that margin gap ``[S]``)."""
    s, n = account.qty.shape
    c = corners.shape[0]
    prices = zero_nan(corners)
    equity = account.wallet[:, None] + account.qty @ prices.T - (account.qty * account.entry).sum(-1)[:, None]
    tiled_qty = np.broadcast_to(account.qty[None], (c, s, n)).reshape(c * s, n)
    tiled_prices = np.broadcast_to(prices[:, None, :], (c, s, n)).reshape(c * s, n)
    mm = regime.requirements(tiled_qty, tiled_prices, when).mm.reshape(c, s).T
    gap = equity - mm
    worst = np.argmin(gap, axis=1)
    return worst, gap[np.arange(s), worst]
