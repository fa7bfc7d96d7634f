"""What a partial liquidation keeps: pure functions from a breaching book to its reduced quantities.

``cross_partial_reduction`` follows Binance's "smart liquidation" (reduce so the account drops to a
lower bracket before closing everything; docs/margin-regimes.md); ``pm_partial_reduction`` scales the whole
book down pro rata until IM is restored (cutting one leg of a hedge would raise PM risk). Both close
at the given mark and charge ``fee_rate`` on the closed notional. Books that do not breach keep
their quantities (``breach`` overrides the test: a book liquidated at the price where equity met MM sits
exactly on the boundary). The engine decides when to call them and books the trades.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.margin.brackets import BracketArrays
from pmsim.simulator.numeric import zero_nan

BISECTION_STEPS = 40


def cross_partial_reduction(
    qty: np.ndarray,
    mark: np.ndarray,
    equity: np.ndarray,
    tiers: BracketArrays,
    fee_rate: float = 0.0,
    breach: np.ndarray | None = None,
) -> np.ndarray:
    """Quantities ``[S, N]`` after stepping every position down one tier at a time until compliant.

    Parameters
    ----------
    qty : [S, N] signed contracts; mark : [N] or [S, N]; equity : [S] at ``mark``; tiers : brackets.

    Step j caps each position's notional at the top of the tier j below its own (the last step closes
    all); the first step with ``equity - fee >= MM`` is kept. The loop is over tier steps (<= B).
    """
    mark = zero_nan(np.broadcast_to(mark, np.shape(qty)))
    notional = np.abs(qty) * mark
    if breach is None:
        breach = equity < tiers.maintenance(notional).sum(axis=-1)
    current = (notional[..., None] >= tiers.floor).sum(axis=-1) - 1
    floors = np.broadcast_to(tiers.floor, (*notional.shape, tiers.floor.shape[-1]))
    kept = np.zeros_like(notional)
    settled = ~breach
    for step in range(1, tiers.floor.shape[-1] + 2):
        below = current - step + 1  # cap at the floor of the tier ``step - 1`` below: the top of the next one
        cap = np.where(
            below >= 1, np.take_along_axis(floors, np.maximum(below, 0)[..., None], -1)[..., 0], 0.0
        )
        trial = np.minimum(notional, cap)
        fee = fee_rate * (notional - trial).sum(axis=-1)
        ok = (equity - fee >= tiers.maintenance(trial).sum(axis=-1)) & ~settled
        kept = np.where(ok[..., None], trial, kept)
        settled |= ok
    with np.errstate(divide="ignore", invalid="ignore"):
        reduced = np.where(notional > 0, np.sign(qty) * kept / mark, 0.0)
    return np.where(breach[..., None], reduced, qty)


def pm_partial_reduction(
    qty: np.ndarray,
    mark: np.ndarray,
    equity: np.ndarray,
    regime: Regime,
    when: np.datetime64,
    fee_rate: float = 0.0,
    breach: np.ndarray | None = None,
) -> np.ndarray:
    """Quantities ``[S, N]``: breaching books (``equity < MM``) scaled by the largest ``f`` in [0, 1]
    with ``equity - fee_rate (1 - f) gross >= IM(f qty)``; ``f = 0`` (full close) when none exists.

    Bisection over ``f`` vectorised across books (IM is monotone in ``f``: the scenario part is
    positively homogeneous, the add-ons grow with size).
    """
    gross = (np.abs(qty) * zero_nan(mark)).sum(axis=-1)
    if breach is None:
        breach = equity < regime.requirements(qty, mark, when).mm

    def slack(f: np.ndarray) -> np.ndarray:
        return equity - fee_rate * (1 - f) * gross - regime.requirements(qty * f[..., None], mark, when).im

    low, high = np.zeros(len(equity)), np.ones(len(equity))
    for _ in range(BISECTION_STEPS):
        mid = (low + high) / 2
        ok = slack(mid) >= 0
        low, high = np.where(ok, mid, low), np.where(ok, high, mid)
    scale = np.where(slack(low) >= 0, low, 0.0)
    return np.where(breach[..., None], qty * scale[..., None], qty)


class ProRataReduction:
    """Mixin for account-wide regimes without tiers: a partial liquidation scales the whole book."""

    liquidates: ClassVar[str] = "account"

    def partial_reduction(
        self, qty: np.ndarray, mark: np.ndarray, equity: np.ndarray, when: np.datetime64, fee_rate: float
    ) -> np.ndarray:
        breach = np.ones(len(equity), dtype=bool)
        return pm_partial_reduction(qty, mark, equity, self, when, fee_rate, breach)  # type: ignore[arg-type]
