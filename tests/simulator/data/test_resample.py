"""Resampling 1h bars to 4h and 1d: first / max / min / last / sum, incomplete buckets dropped."""

from __future__ import annotations

import pandas as pd
from archive_fixtures import HOUR_MS, T0_MS
from pmsim.simulator.data.resample import resample_bars


def _hours(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "open_time": [T0_MS + i * HOUR_MS for i in range(n)],
            "open": [float(10 + i) for i in range(n)],
            "high": [float(20 + i) for i in range(n)],
            "low": [float(5 + i) for i in range(n)],
            "close": [float(11 + i) for i in range(n)],
            "volume": [1.0] * n,
        }
    )


def test_four_hour_bars():
    out = resample_bars(_hours(9), HOUR_MS, 4 * HOUR_MS)  # 9th hour is an incomplete bucket
    assert out["open_time"].tolist() == [T0_MS, T0_MS + 4 * HOUR_MS]
    assert out.iloc[0][["open", "high", "low", "close", "volume"]].tolist() == [10, 23, 5, 14, 4]


def test_daily_bar_and_partial_last():
    assert len(resample_bars(_hours(30), HOUR_MS, 24 * HOUR_MS)) == 1
    assert len(resample_bars(_hours(30), HOUR_MS, 24 * HOUR_MS, partial_last=True)) == 2
