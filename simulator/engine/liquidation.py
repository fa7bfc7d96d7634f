"""Where inside a mark bar a breach happens, and at which price it is settled.

Within a bar each underlying's mark touches its low and its high, in an unknown order. For every
combination of extremes (2^U points for U underlyings) the account's equity and maintenance margin are
evaluated at once; the worst corner (least equity - MM) decides whether the bar breaches. The breach is
then settled (``simulator.engine.policies``) at the price where equity met MM on the straight path from
the bar's open to that corner (``threshold``), at the open when the bar gapped through, or at the corner
itself (``extreme``, the older rule, which overstates the loss).

Every product here sums each row in a fixed order (``einsum``, never BLAS ``@``), so a book priced in a
batch of S gets the same bits as the book alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from pmsim.simulator.engine.account import Account
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.numeric import zero_nan

PRICE_RULES = ("threshold", "extreme")
CROSSING_STEPS = 12  # Illinois steps: exact for a linear gap, ~1e-12 of the path for a piecewise one


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
    upnl = (
        np.einsum("sn,cn->sc", account.qty, prices)
        - np.einsum("sn,sn->s", account.qty, account.entry)[:, None]
    )
    equity = account.wallet[:, None] + upnl
    tiled_qty = np.broadcast_to(account.qty[None], (c, s, n)).reshape(c * s, n)
    tiled_prices = np.broadcast_to(prices[:, None, :], (c, s, n)).reshape(c * s, n)
    mm = regime.requirements(tiled_qty, tiled_prices, when).mm.reshape(c, s).T
    gap = equity - mm
    worst = np.argmin(gap, axis=1)
    return worst, gap[np.arange(s), worst]


def crossing(gap: Callable[[np.ndarray], np.ndarray], at_start: np.ndarray, at_end: np.ndarray) -> np.ndarray:
    """Fraction ``f`` in [0, 1] (shape of ``at_start``) where ``gap(f)`` falls through 0.

    ``at_start = gap(0) >= 0 > gap(1) = at_end`` elementwise. Regula falsi with the Illinois rule: a gap
    linear in ``f`` is solved by the first step; a piecewise-linear one (tiers, scenario maxima)
    converges once the bracket sits on one piece. Returns the left end, where ``gap >= 0`` still holds.
    """
    lo, hi = np.zeros_like(at_start), np.ones_like(at_start)
    g_lo, g_hi = at_start.astype(float), np.minimum(at_end, 0.0)
    side = np.zeros(at_start.shape, dtype=np.int8)  # which end moved last: -1 low, +1 high
    for _ in range(CROSSING_STEPS):
        span = g_lo - g_hi
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(span > 0, lo + (hi - lo) * (g_lo / span), lo)
        f = np.clip(f, lo, hi)
        g = gap(f)
        up = g >= 0
        # Illinois: an end kept twice in a row has its gap halved, so the next step leaves it
        lo, g_lo = np.where(up, f, lo), np.where(up, g, np.where(side > 0, g_lo / 2, g_lo))
        hi, g_hi = np.where(up, hi, f), np.where(up, np.where(side < 0, g_hi / 2, g_hi), g)
        side = np.where(up, -1, 1).astype(np.int8)
    return lo


def path_price(start: np.ndarray, end: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Prices ``fraction`` of the way from ``start`` to ``end`` (fraction broadcast against the prices)."""
    return start + fraction * (end - start)
