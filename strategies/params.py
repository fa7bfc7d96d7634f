"""Parameters as arrays over the S books, the hysteresis band of entry/exit thresholds, sizing prices."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.arrays import Market
from pmsim.strategies.base import as_param


def lockstep(strategy: str, **params: object) -> tuple[int, dict[str, np.ndarray]]:
    """The number of books S and every parameter as a float array over S (scalars broadcast)."""
    sizes = {np.size(v) for v in params.values()} - {1}
    if len(sizes) > 1:
        raise ConfigError(
            f"{strategy} parameters must have one length (or be scalars), got lengths {sorted(sizes)}"
        )
    n = sizes.pop() if sizes else 1
    return n, {name: as_param(value, n, name) for name, value in params.items()}  # type: ignore[arg-type]


def hysteresis(
    held: np.ndarray, direction: np.ndarray, strength: np.ndarray, entry: np.ndarray, exit_: np.ndarray
) -> np.ndarray:
    """The side to hold next, in {-1, 0, 1}: keep ``held`` while ``strength > exit_`` and ``direction``
    still agrees; otherwise take ``direction`` where ``strength > entry``, else flat."""
    stay = (held != 0) & (direction == held) & (strength > exit_)
    return np.where(stay, held, np.where(strength > entry, direction, 0.0))


def last_close(market: Market, columns: np.ndarray) -> np.ndarray:
    """``[T, k]`` closes with a missing bar carrying the last traded close (NaN before the first listed bar):
    a price to size against at every bar, from bars up to t only, so a gap does not zero a target."""
    return pd.DataFrame(market.close[:, columns]).ffill().to_numpy()
