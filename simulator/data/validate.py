"""Content checks for one series of bars or funding events; bad rows raise, gaps are reported.

Every check names the file and the row (``frame.attrs['file']`` and ``attrs['line0']``, the file line
of the frame's first row). Gaps are never filled here: they come back in the report, and the
market assembly leaves those bars unlisted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pmsim.simulator.errors import DataError

PRICE_COLUMNS = ("open", "high", "low", "close")


@dataclass(frozen=True, slots=True)
class Gap:
    """``missing`` bars absent after the bar opening at ``after_ms``."""

    after_ms: int
    missing: int

    def __str__(self) -> str:
        return f"{np.datetime64(self.after_ms, 'ms').astype('datetime64[m]')}+{self.missing}"


@dataclass(frozen=True, slots=True)
class SeriesReport:
    """What a validated series holds: row count, first/last instant (ms) and its gaps."""

    file: str
    rows: int
    first_ms: int
    last_ms: int
    gaps: tuple[Gap, ...]

    @property
    def missing(self) -> int:
        return sum(g.missing for g in self.gaps)


def _where(frame: pd.DataFrame, mask: np.ndarray, message: str) -> None:
    """Raise ``message`` at the first row where ``mask`` holds."""
    if mask.any():
        k = int(np.argmax(mask))
        raise DataError(
            message.format(**{c: frame[c].iloc[k] for c in frame.columns}),
            file=frame.attrs.get("file"),
            row=frame.attrs.get("line0", 1) + k,
        )


def now_ms() -> int:
    return int(time.time() * 1000)


def _check_times(
    frame: pd.DataFrame, column: str, listing_ms: int | None, future_ms: int | None
) -> np.ndarray:
    times = frame[column].to_numpy(np.int64)
    if len(times) == 0:
        raise DataError("no rows", file=frame.attrs.get("file"))
    step = np.diff(times)
    _where(
        frame, np.concatenate([[False], step == 0]), f"duplicate bar: {{{column}}} repeats the previous row"
    )
    _where(frame, np.concatenate([[False], step < 0]), f"unordered: {{{column}}} is before the previous row")
    limit = now_ms() if future_ms is None else future_ms
    _where(frame, times > limit, f"timestamp {{{column}}} ms is in the future")
    if listing_ms is not None:
        _where(
            frame,
            times < listing_ms,
            f"timestamp {{{column}}} ms is before the contract was listed ({listing_ms})",
        )
    return times


def check_bars(
    frame: pd.DataFrame,
    step_ms: int,
    *,
    positive: bool = True,
    listing_ms: int | None = None,
    future_ms: int | None = None,
) -> SeriesReport:
    """Validate OHLC bars (``open_time`` ms and ``open, high, low, close``) on a ``step_ms`` grid.

    ``positive=False`` for premium-index klines, whose values are signed fractions.
    """
    for column in PRICE_COLUMNS:
        _where(frame, frame[column].isna().to_numpy(), f"{column} is NaN")
        _where(frame, ~np.isfinite(frame[column].to_numpy()), f"{column} = {{{column}}} is not finite")
        if positive:
            _where(frame, frame[column].to_numpy() <= 0, f"non-positive price: {column} = {{{column}}}")
    if "volume" in frame:
        volume = frame["volume"].to_numpy(dtype=float)
        _where(frame, ~(np.isfinite(volume) & (volume >= 0)), "volume = {volume} is not a count >= 0")
    o, h, low, c = (frame[col].to_numpy() for col in PRICE_COLUMNS)
    _where(frame, h < low, "high {high} < low {low}")
    _where(
        frame,
        (h < np.maximum(o, c)) | (low > np.minimum(o, c)),
        "open/close outside the high-low range (o={open} h={high} l={low} c={close})",
    )
    times = _check_times(frame, "open_time", listing_ms, future_ms)
    _where(frame, times % step_ms != 0, f"open_time {{open_time}} is not on the {step_ms} ms bar grid")
    step = np.diff(times)
    holes = np.flatnonzero(step > step_ms)
    gaps = tuple(Gap(int(times[k]), int(step[k] // step_ms - 1)) for k in holes)
    return SeriesReport(frame.attrs.get("file", ""), len(frame), int(times[0]), int(times[-1]), gaps)


def check_funding(
    frame: pd.DataFrame, *, max_abs_rate: float = 0.05, future_ms: int | None = None
) -> SeriesReport:
    """Validate funding events (``funding_time`` ms floored to the hour, ``funding_rate``)."""
    _where(frame, frame["funding_rate"].isna().to_numpy(), "funding_rate is NaN")
    _where(frame, ~np.isfinite(frame["funding_rate"].to_numpy()), "funding_rate {funding_rate} is not finite")
    _where(
        frame,
        np.abs(frame["funding_rate"].to_numpy()) > max_abs_rate,
        f"funding_rate {{funding_rate}} is beyond ±{max_abs_rate}",
    )
    times = _check_times(frame, "funding_time", None, future_ms)
    return SeriesReport(frame.attrs.get("file", ""), len(frame), int(times[0]), int(times[-1]), ())


def check_series(
    data_type: str, interval: str, frame: pd.DataFrame, *, listing_ms: int | None = None
) -> SeriesReport:
    """Validate one series whatever its data type (funding events or kline-type bars)."""
    from pmsim.simulator.data.archive import interval_ms

    if data_type == "fundingRate":
        return check_funding(frame)
    return check_bars(
        frame, interval_ms(interval), positive=data_type != "premiumIndexKlines", listing_ms=listing_ms
    )
