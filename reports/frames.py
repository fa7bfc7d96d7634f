"""Run folders turned into report-ready frames: UTC times, per-config bars with labels, downsampling.

Everything here reads a :class:`simulator.results.RunFolder` (never the engine) and returns pandas
objects; charts and tables are built from these in ``sections.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from pmsim.simulator.errors import RunError
from pmsim.simulator.metrics import ConfigBars, split_configs
from pmsim.simulator.results import RunFolder

MAX_POINTS = 2000


@dataclass(frozen=True)
class ConfigView:
    """One config of one run: its display name and its bars (series times are UTC-aware)."""

    run: str
    label: str
    bars: ConfigBars

    @property
    def name(self) -> str:
        return f"{self.run} · {self.label}"

    @property
    def time(self) -> pd.Series:
        return self.bars.series["time"]


@dataclass(frozen=True)
class RunView:
    """A run folder prepared for the report: UTC times, bar length, configs with labels."""

    folder: RunFolder

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def market_source(self) -> str:
        market = self.folder.summary.get("market") or self.folder.config.get("market") or {}
        return str(market.get("source", "unknown market"))

    @property
    def symbols(self) -> list[str]:
        return [c.split(":", 1)[1] for c in self.prices.columns if c.startswith("mark:")]

    @property
    def regime(self) -> dict:
        return dict(self.folder.summary.get("regime") or {"name": "unknown"})

    @property
    def regime_name(self) -> str:
        return str(self.regime.get("name", "unknown"))

    @property
    def preset(self) -> object:
        """The regime preset: the resolved regime's, else the one the run config names, else None."""
        return self.regime.get("preset") or (self.folder.config.get("regime") or {}).get("preset")

    @property
    def allocator(self) -> object:
        """The resolved allocator rules: ``config.json`` resolved.allocator (else the summary's), or None."""
        resolved = self.folder.config.get("resolved") or {}
        return resolved.get("allocator", self.folder.summary.get("allocator"))

    @property
    def notes(self) -> object:
        """The run's data notes (``summary.json`` market.notes: stand-ins, settlement proxies, gaps)."""
        return (self.folder.summary.get("market") or {}).get("notes")

    @cached_property
    def series(self) -> pd.DataFrame:
        if self.folder.series.empty:
            raise RunError(f"{self.folder.path}: series.parquet has no bars; the run did not record anything")
        return with_utc_time(self.folder.series)

    @cached_property
    def prices(self) -> pd.DataFrame:
        return with_utc_time(self.folder.prices).sort_values("time", kind="stable").reset_index(drop=True)

    @cached_property
    def events(self) -> pd.DataFrame:
        return with_utc_time(self.folder.events)

    @cached_property
    def bar_seconds(self) -> float:
        """Median spacing of the bar clock in seconds (NaN for a single bar)."""
        steps = pd.DatetimeIndex(self.series["time"].unique()).sort_values().to_series().diff().dropna()
        return steps.median().total_seconds() if len(steps) else float("nan")

    @cached_property
    def configs(self) -> tuple[ConfigView, ...]:
        labels = self.folder.labels
        return tuple(
            ConfigView(self.name, labels[c] if 0 <= c < len(labels) else f"config {c}", bars)
            for c, bars in split_configs(self.series, self.events, self.bar_seconds).items()
        )


def with_utc_time(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose ``time`` column is UTC-aware (naive times are taken as UTC)."""
    return frame.assign(time=pd.to_datetime(frame["time"], utc=True))


def all_configs(runs: Sequence[RunView]) -> list[ConfigView]:
    """Every config of every run, in run order then config order."""
    return [view for run in runs for view in run.configs]


def downsample(values: pd.Series, max_points: int = MAX_POINTS) -> pd.Series:
    """At most about ``max_points`` rows of ``values``, keeping each bucket's min and max (spikes survive).

    The rows are split into ``max_points // 2`` equal buckets; from each the positions of the smallest
    and largest value are kept (NaN and inf are ignored for the choice, then kept as they are).
    """
    n = len(values)
    if n <= max_points:
        return values
    size = -(-n // (max_points // 2))
    rows = -(-n // size)
    finite = np.full(rows * size, np.nan)
    raw = values.to_numpy(dtype=float)
    finite[:n] = np.where(np.isfinite(raw), raw, np.nan)
    grid = finite.reshape(rows, size)
    offsets = np.arange(rows) * size
    low = np.argmin(np.where(np.isnan(grid), np.inf, grid), axis=1) + offsets
    high = np.argmax(np.where(np.isnan(grid), -np.inf, grid), axis=1) + offsets
    keep = np.unique(np.concatenate([[0, n - 1], np.minimum(low, n - 1), np.minimum(high, n - 1)]))
    return values.iloc[keep]
