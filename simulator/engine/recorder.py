"""The recorder: preallocated ``[T, S]`` arrays filled one row per bar, turned into tables at the end.

Runs with more than one sleeve also record ``{column}@{sleeve}`` for ``SLEEVE_COLUMNS`` and
``notional@{sleeve}:{symbol}``, after the account's columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pmsim.simulator.results import SERIES_COLUMNS, SLEEVE_COLUMNS


class Recorder:
    def __init__(
        self, n_bars: int, n_configs: int, n_instruments: int, sleeves: tuple[str, ...] = ()
    ) -> None:
        self.columns = {name: np.full((n_bars, n_configs), np.nan) for name in SERIES_COLUMNS}
        self.notional = np.zeros((n_bars, n_configs, n_instruments))
        self.sleeves = sleeves
        self.sleeve_columns = {
            name: np.full((n_bars, len(sleeves), n_configs), np.nan) for name in SLEEVE_COLUMNS
        }
        self.sleeve_notional = np.zeros((n_bars, len(sleeves), n_configs, n_instruments))

    def record(self, t: int, notional: np.ndarray, **values: np.ndarray) -> None:
        """Store the close-of-bar state of bar ``t``; ``values`` are the ``SERIES_COLUMNS`` arrays ``[S]``."""
        for name, value in values.items():
            self.columns[name][t] = value
        self.notional[t] = notional

    def record_sleeves(self, t: int, notional: np.ndarray, **values: np.ndarray) -> None:
        """Store bar ``t``'s per-sleeve values ``[G, S]`` (``SLEEVE_COLUMNS``) and notionals ``[G, S, N]``."""
        for name, value in values.items():
            self.sleeve_columns[name][t] = value
        self.sleeve_notional[t] = notional

    def series(self, times: np.ndarray, symbols: tuple[str, ...]) -> pd.DataFrame:
        """Long table: one row per bar and config, bar-major (time, then config)."""
        n_bars, n_configs = self.columns["equity"].shape
        frame = {
            "time": pd.to_datetime(np.repeat(np.asarray(times), n_configs), utc=True),
            "config": np.tile(np.arange(n_configs, dtype=np.int64), n_bars),
        }
        frame.update({name: values.reshape(-1) for name, values in self.columns.items()})
        for k, symbol in enumerate(symbols):
            frame[f"notional:{symbol}"] = self.notional[:, :, k].reshape(-1)
        for g, sleeve in enumerate(self.sleeves):
            for name, values in self.sleeve_columns.items():
                frame[f"{name}@{sleeve}"] = values[:, g].reshape(-1)
            for k, symbol in enumerate(symbols):
                frame[f"notional@{sleeve}:{symbol}"] = self.sleeve_notional[:, g, :, k].reshape(-1)
        return pd.DataFrame(frame)
