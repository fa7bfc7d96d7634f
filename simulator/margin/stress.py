"""Distance to liquidation under any regime: how far a joint adverse move must go before equity < MM.

``shock_distance`` is a pure per-bar function the engine can record; ``liquidation_prices`` moves one
symbol at a time (the others held, as Binance's cross formula does) and works for every regime,
including portfolio margin where no closed form exists. Both scan a grid, then bisect.
"""

from __future__ import annotations

import numpy as np
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.numeric import zero_nan

SCAN_POINTS = 32
BISECTION_STEPS = 30
MAX_UP_SCALE = 10.0


def breached(
    qty: np.ndarray,
    entry: np.ndarray,
    wallet: np.ndarray,
    mark: np.ndarray,
    regime: Regime,
    when: np.datetime64,
) -> np.ndarray:
    """``[S]`` True where equity ``wallet + sum qty (mark - entry)`` is below the regime's MM."""
    equity = wallet + (qty * (mark - entry)).sum(axis=-1)
    return equity < regime.requirements(qty, mark, when).mm


def shock_distance(
    qty: np.ndarray,
    entry: np.ndarray,
    wallet: np.ndarray,
    mark: np.ndarray,
    regime: Regime,
    when: np.datetime64,
    direction: np.ndarray,
) -> np.ndarray:
    """Smallest scale ``x >= 0`` ``[S]`` such that marks ``mark (1 + x direction)`` liquidate the book.

    Parameters
    ----------
    qty : [S, N]; entry : [N] or [S, N]; wallet : [S]; mark : [N] or [S, N]; direction : [N] or [S, N] relative moves
    (e.g. -0.30 for BTC instruments, -0.35 for ETH: ``x = 1`` is that shock). Returns 0 for a book
    already in breach and ``inf`` when no move up to a price of zero (or x = 10 for rising-only
    directions) liquidates it.
    """
    s, n = np.shape(qty)
    mark, entry = np.broadcast_to(zero_nan(mark), (s, n)), np.broadcast_to(entry, (s, n))
    direction = np.broadcast_to(direction, (s, n))
    falls = np.max(-direction, axis=-1)
    top = np.where(falls > 0, 0.999 / np.maximum(falls, 1e-12), MAX_UP_SCALE)
    grid = np.linspace(0.0, 1.0, SCAN_POINTS)[None, :] * top[:, None]  # [S, G]

    def test(scale: np.ndarray) -> np.ndarray:
        """Breach at ``scale[S, G]`` -> bool [S, G]; evaluates all S*G books in one regime call."""
        g = scale.shape[1]
        marks = mark[:, None, :] * (1 + scale[..., None] * direction[:, None, :])
        flat = breached(
            np.repeat(qty, g, axis=0),
            np.repeat(entry, g, axis=0),
            np.repeat(wallet, g),
            marks.reshape(s * g, n),
            regime,
            when,
        )
        return flat.reshape(s, g)

    hit = test(grid)
    first = np.argmax(hit, axis=-1)
    rows = np.arange(s)
    low, high = grid[rows, np.maximum(first - 1, 0)], grid[rows, first]
    for _ in range(BISECTION_STEPS):
        mid = (low + high) / 2
        inside = test(mid[:, None])[:, 0]
        low, high = np.where(inside, low, mid), np.where(inside, mid, high)
    return np.where(~hit.any(axis=-1), np.inf, np.where(first == 0, 0.0, high))


def liquidation_prices(
    qty: np.ndarray,
    entry: np.ndarray,
    wallet: np.ndarray,
    mark: np.ndarray,
    regime: Regime,
    when: np.datetime64,
) -> np.ndarray:
    """``[S, N]`` mark of each symbol at which the book liquidates, the others held (NaN: none or flat)."""
    s, n = np.shape(qty)
    mark, entry = np.broadcast_to(zero_nan(mark), (s, n)), np.broadcast_to(entry, (s, n))
    direction = -np.sign(qty)[:, :, None] * np.eye(n)[None, :, :]  # [S, N(symbol), N]
    scale = shock_distance(
        np.repeat(qty, n, axis=0),
        np.repeat(entry, n, axis=0),
        np.repeat(wallet, n),
        np.repeat(mark, n, axis=0),
        regime,
        when,
        direction.reshape(s * n, n),
    ).reshape(s, n)
    found = (qty != 0) & np.isfinite(scale)
    return np.where(found, mark * (1 - np.sign(qty) * np.where(found, scale, 0.0)), np.nan)
