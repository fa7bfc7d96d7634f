"""Gap bars: a bar missing inside an instrument's listed life is never a price of 0.

A gap is a bar where the instrument is not listed although it was listed before and is listed again
later (archive data from ``pmsim data fetch`` can have them). The engine's choice, stated in the run's
notes: **carry the last mark**. In a gap bar the instrument's mark open, low, high and close all equal
its last mark close, so a held position keeps its value, margin is computed at that mark, and no
liquidation is triggered by prices that never traded (a breach caused by other instruments or by
funding still closes it, at the carried mark). Funding settles at the carried mark wherever the market
has a funding instant. Orders in a gapped instrument do not fill; each one is recorded as a
``rejection`` event and the strategy's next decision stands for the next traded bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.numeric import zero_nan

DEFERRED = "no price in a gap bar: order deferred"


@dataclass(frozen=True)
class Marks:
    """Mark prices the engine replays: 0 where an instrument is not listed, the last mark in its gaps."""

    open: np.ndarray
    low: np.ndarray
    high: np.ndarray
    close: np.ndarray
    gap: np.ndarray  # [T, N]
    notes: tuple[str, ...]

    @classmethod
    def of(cls, market: Market) -> Marks:
        gap = market.gap
        rows = np.arange(market.n_bars)[:, None]
        last_listed = np.maximum.accumulate(np.where(market.listed, rows, 0), axis=0)
        carried = np.take_along_axis(market.mark_close, last_listed, axis=0)

        def fill(values: np.ndarray) -> np.ndarray:
            return zero_nan(np.where(gap, carried, values))

        notes = tuple(
            f"{symbol}: {count} gap bar{'s' if count != 1 else ''} inside its listed history; the last mark "
            "is carried (valuation and margin at that mark, no liquidation on prices that never traded, "
            "funding at that mark, orders deferred)"
            for symbol, count in zip(market.symbols, gap.sum(axis=0).tolist(), strict=True)
            if count
        )
        return cls(
            fill(market.mark_open),
            fill(market.mark_low),
            fill(market.mark_high),
            fill(market.mark_close),
            gap,
            notes,
        )
