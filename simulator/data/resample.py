"""Resample bars to a coarser interval (1h -> 4h, 1d): open first, high max, low min, close last, volume sum.

Buckets are aligned to the UTC epoch (4h bars open at 00:00, 04:00, ...; daily bars at 00:00). A
bucket missing any of its source bars is dropped rather than built from part of its data, so a gap
in the source stays a gap in the result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pmsim.simulator.errors import ConfigError

AGGREGATES = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def resample_bars(
    frame: pd.DataFrame, source_ms: int, target_ms: int, *, partial_last: bool = False
) -> pd.DataFrame:
    """Bars of length ``target_ms`` from bars of length ``source_ms`` (``open_time`` in ms).

    ``partial_last`` keeps an incomplete final bucket: a dated contract's delivery-day bar.
    """
    if target_ms % source_ms:
        raise ConfigError(f"cannot resample {source_ms} ms bars to {target_ms} ms: not a multiple")
    if target_ms == source_ms:
        return frame
    bucket = frame["open_time"].to_numpy(np.int64) // target_ms * target_ms
    columns = {c: a for c, a in AGGREGATES.items() if c in frame}
    grouped = frame[list(columns)].groupby(bucket, sort=True)
    out = grouped.agg(columns)
    complete = grouped.size().to_numpy() == target_ms // source_ms
    complete[-1] |= partial_last
    out = out[complete]
    result = pd.DataFrame(
        {"open_time": out.index.to_numpy(np.int64), **{c: out[c].to_numpy() for c in columns}}
    )
    result.attrs.update(frame.attrs)
    return result
