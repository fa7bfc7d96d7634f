"""The market as aligned ``[T, N]`` arrays: what the engine replays.

Bars are on one clock ``times[T]`` (bar open instants, UTC); bar ``t`` covers
``[times[t], times[t+1])``. Columns are instruments. Prices are NaN where an instrument is not
listed (``listed[T, N]`` is False). The engine reads nothing but this object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pmsim.simulator.errors import DataError
from pmsim.simulator.market.instruments import Instrument

PRICE_FIELDS = ("open", "high", "low", "close", "mark_open", "mark_high", "mark_low", "mark_close")


def gap_mask(listed: np.ndarray) -> np.ndarray:
    """``[T, N]`` True where an instrument is unlisted between two listed bars (inside its listed life)."""
    before = np.logical_or.accumulate(listed, axis=0)
    after = np.logical_or.accumulate(listed[::-1], axis=0)[::-1]
    return ~listed & before & after


@dataclass(frozen=True, eq=False)
class Market:
    """Aligned bars for N instruments.

    Parameters
    ----------
    times : [T] datetime64[ms], bar open instants, strictly increasing and evenly spaced.
    instruments : N instruments, one per column.
    open, high, low, close : [T, N] last-trade OHLC (NaN where not listed).
    mark_open, mark_high, mark_low, mark_close : [T, N] mark-price OHLC; margin, unrealised PnL and
        liquidation use these.
    funding_rate : [T, N] rate of a funding instant inside bar t (0 elsewhere); longs pay
        ``qty * mark_open * rate``.
    funding_due : [T, N] True where a funding instant falls inside bar t.
    listed : [T, N] True where the instrument trades during bar t.
    settlement : [N] settlement price of dated futures (NaN for perpetuals or unknown).
    expiry_bar : [N] index of the last bar of a dated future (-1 for perpetuals or not in range);
        settlement happens at the end of that bar.
    source : "synthetic (...)" or "historical (Binance)": reports print it.
    notes : facts a reader of the results must know (substitutions, proxies).
    gap : [T, N] True where a bar is missing inside an instrument's listed life (between its first
        and last bar): the instrument exists but never traded in that bar, so ``listed`` is False and
        its prices are NaN there. Unlike a bar before listing or after expiry, a held position carries
        its last mark through a gap. Default: every unlisted bar between two listed bars (``gap_mask``).
    """

    times: np.ndarray
    instruments: tuple[Instrument, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    mark_open: np.ndarray
    mark_high: np.ndarray
    mark_low: np.ndarray
    mark_close: np.ndarray
    funding_rate: np.ndarray
    funding_due: np.ndarray
    listed: np.ndarray
    settlement: np.ndarray
    expiry_bar: np.ndarray
    source: str
    notes: tuple[str, ...] = field(default=())
    gap: np.ndarray = None  # type: ignore[assignment]  # None: derived from listed (gap_mask)

    def __post_init__(self) -> None:
        t, n = len(self.times), len(self.instruments)
        if self.gap is None:
            object.__setattr__(self, "gap", gap_mask(np.asarray(self.listed, bool)))
        for name in (*PRICE_FIELDS, "funding_rate", "funding_due", "listed", "gap"):
            shape = getattr(self, name).shape
            if shape != (t, n):
                raise DataError(f"market field {name} has shape {shape}, expected {(t, n)}")
        if t > 1 and not np.all(np.diff(self.times) > np.timedelta64(0, "ms")):
            bad = int(np.argmin(np.diff(self.times) > np.timedelta64(0, "ms"))) + 1
            raise DataError(f"market bars are not strictly increasing at bar {bad} ({self.times[bad]})")
        if (self.gap & self.listed).any():
            raise DataError("market field gap marks a listed bar; a gap bar is one that did not trade")
        symbols = self.symbols
        if len(set(symbols)) != n:
            raise DataError(f"market has duplicate instruments: {sorted(symbols)}")
        for name in PRICE_FIELDS:
            values = getattr(self, name)[self.listed]
            if np.isnan(values).any():
                raise DataError(f"market field {name} has NaN on a listed bar")
            if (values <= 0).any():
                raise DataError(f"market field {name} has a non-positive price on a listed bar")

    @property
    def n_bars(self) -> int:
        return len(self.times)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(i.symbol for i in self.instruments)

    @property
    def underlyings(self) -> tuple[str, ...]:
        """Distinct underlyings in column order of first appearance."""
        return tuple(dict.fromkeys(i.underlying for i in self.instruments))

    @property
    def underlying_index(self) -> np.ndarray:
        """[N] index into ``underlyings`` for each instrument."""
        lookup = {u: k for k, u in enumerate(self.underlyings)}
        return np.array([lookup[i.underlying] for i in self.instruments], dtype=np.intp)

    @property
    def bar_seconds(self) -> float:
        if self.n_bars < 2:
            return 3600.0
        return float((self.times[1] - self.times[0]) / np.timedelta64(1, "s"))

    def column(self, symbol: str) -> int:
        """Column index of ``symbol``."""
        try:
            return self.symbols.index(symbol)
        except ValueError:
            from pmsim.simulator.errors import ConfigError

            raise ConfigError.unknown("symbol", symbol, self.symbols) from None

    def perpetual_columns(self) -> np.ndarray:
        return np.array([k for k, i in enumerate(self.instruments) if not i.is_dated], dtype=np.intp)
