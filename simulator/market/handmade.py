"""Markets from a few hand-written bars: for tests, examples and what-if replays.

``handmade_market`` takes close prices per symbol (and optionally open/high/low and mark bars) and fills
in the rest the simple way: open = previous close, high/low = max/min of open and close, mark = last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.market.instruments import instrument_for

FUNDING_HOURS = (0, 8, 16)


def handmade_market(
    close: Mapping[str, Sequence[float]],
    start: str = "2024-01-01T00:00",
    bar_hours: float = 1.0,
    *,
    open: Mapping[str, Sequence[float]] | None = None,  # noqa: A002 - the market's own word
    high: Mapping[str, Sequence[float]] | None = None,
    low: Mapping[str, Sequence[float]] | None = None,
    mark_low: Mapping[str, Sequence[float]] | None = None,
    mark_high: Mapping[str, Sequence[float]] | None = None,
    funding: Mapping[str, float | Sequence[float]] | None = None,
    settlement: Mapping[str, float] | None = None,
    taker_fee: float = 0.0005,
) -> Market:
    """Build a ``Market``; NaN closes mean "not listed". Funding is charged at 00/08/16 UTC bar opens.

    ``funding`` gives a perpetual's rate (a constant, or one value per bar used where funding is due).
    """
    symbols = list(close)
    instruments = tuple(instrument_for(s, taker_fee=taker_fee) for s in symbols)
    closes = np.column_stack([np.asarray(close[s], dtype=float) for s in symbols])
    n_bars = closes.shape[0]
    step = np.timedelta64(int(bar_hours * 3600 * 1000), "ms")
    times = np.datetime64(start, "ms") + step * np.arange(n_bars)

    def field(values: Mapping[str, Sequence[float]] | None, default: np.ndarray) -> np.ndarray:
        out = default.copy()
        for s, series in (values or {}).items():
            out[:, symbols.index(s)] = np.asarray(series, dtype=float)
        return out

    prev = np.vstack([closes[:1], closes[:-1]])
    opens = field(open, np.where(np.isnan(prev), closes, prev))
    highs = field(high, np.fmax(opens, closes))
    lows = field(low, np.fmin(opens, closes))
    listed = ~np.isnan(closes)
    hours = (times - times.astype("datetime64[D]")) / np.timedelta64(1, "h")
    at_funding = np.isin(hours, FUNDING_HOURS)[:, None] & np.array([not i.is_dated for i in instruments])
    rates = np.zeros_like(closes)
    for s, rate in (funding or {}).items():
        rates[:, symbols.index(s)] = np.broadcast_to(np.asarray(rate, dtype=float), (n_bars,))
    funding_due = at_funding & listed & bool(funding)
    expiry_bar = np.full(len(symbols), -1)
    for n, inst in enumerate(instruments):
        if inst.is_dated:
            before = np.flatnonzero(times < inst.expiry)
            if before.size and times[before[-1]] + step >= inst.expiry:
                expiry_bar[n] = before[-1]
    settle = np.array([(settlement or {}).get(s, np.nan) for s in symbols])
    return Market(
        times=times,
        instruments=instruments,
        open=opens,
        high=highs,
        low=lows,
        close=closes,
        mark_open=opens.copy(),
        mark_high=field(mark_high, highs),
        mark_low=field(mark_low, lows),
        mark_close=closes.copy(),
        funding_rate=np.where(funding_due, rates, 0.0),
        funding_due=funding_due,
        listed=listed,
        settlement=settle,
        expiry_bar=expiry_bar,
        source="handmade",
    )
