"""pmsim's own run metrics: small named functions over one config's bars, in a read-only registry.

Each metric takes a :class:`ConfigBars` (one config's rows of ``series.parquet``, in time order, its
events and the bar length) and returns one number. The first paragraph of each docstring is the
definition the report prints, so change both together. Standard return statistics (Sharpe, drawdown)
are not here: reports take them from vectorbt's returns accessor.

Conventions for undefined values: ROM is NaN while the time-average IM is 0; MUR is +inf on bars where
equity <= 0 and IM > 0 (no equity backs the margin) and NaN where equity <= 0 and IM = 0; buffer is NaN
on bars with MM = 0 (nothing to maintain); min buffer is NaN when MM is 0 on every bar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

SECONDS_PER_YEAR = 365 * 24 * 3600.0  # crypto trades every day; same year as vectorbt's "365 days"
MUR_DANGER_LOW = 0.70
MUR_DANGER_HIGH = 0.80


@dataclass(frozen=True)
class ConfigBars:
    """One config of a run.

    series: its rows of ``series.parquet`` sorted by time; events: its rows of ``events.parquet``;
    bar_seconds: the bar length in seconds.
    """

    series: pd.DataFrame
    events: pd.DataFrame
    bar_seconds: float


Metric = Callable[[ConfigBars], float]


def mur_path(series: pd.DataFrame) -> pd.Series:
    """MUR per bar: IM / equity (+inf where equity <= 0 < IM, NaN where equity <= 0 and IM = 0)."""
    equity = series["equity"].to_numpy(dtype=float)
    im = series["im"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mur = np.where(equity > 0, im / equity, np.where(im > 0, np.inf, np.nan))
    return pd.Series(mur, index=series.index, name="mur")


def buffer_path(series: pd.DataFrame) -> pd.Series:
    """Buffer per bar: equity / MM (NaN on bars with MM = 0)."""
    mm = series["mm"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        buffer = np.where(mm > 0, series["equity"].to_numpy(dtype=float) / mm, np.nan)
    return pd.Series(buffer, index=series.index, name="buffer")


def rom_path(series: pd.DataFrame) -> pd.Series:
    """ROM path: net PnL up to bar t (equity_t - deposits_t) / mean IM over bars 0..t
    (NaN while that mean is 0)."""
    pnl = series["equity"].to_numpy(dtype=float) - series["deposits"].to_numpy(dtype=float)
    mean_im = np.cumsum(series["im"].to_numpy(dtype=float)) / np.arange(1, len(series) + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rom = np.where(mean_im > 0, pnl / mean_im, np.nan)
    return pd.Series(rom, index=series.index, name="rom")


def final_equity(bars: ConfigBars) -> float:
    """Final equity: equity (wallet + unrealised PnL at mark) at the last bar."""
    return float(bars.series["equity"].iloc[-1])


def net_pnl(bars: ConfigBars) -> float:
    """Net PnL: final equity - deposits (after fees, funding and liquidation losses)."""
    return final_equity(bars) - float(bars.series["deposits"].iloc[-1])


def rom(bars: ConfigBars) -> float:
    """ROM (return on margin): net PnL over the window / time-average IM over the window
    (NaN if that IM is 0)."""
    mean_im = float(bars.series["im"].mean())
    return net_pnl(bars) / mean_im if mean_im > 0 else float("nan")


def rom_annualised(bars: ConfigBars) -> float:
    """Annualised ROM: ROM x (365 days / window length), window length = bars x bar length."""
    window_seconds = len(bars.series) * bars.bar_seconds
    return rom(bars) * SECONDS_PER_YEAR / window_seconds


def max_mur(bars: ConfigBars) -> float:
    """Max MUR: the largest IM / equity over the bars (+inf if equity fell to 0 or below while IM > 0)."""
    return float(mur_path(bars.series).max())


def min_buffer(bars: ConfigBars) -> float:
    """Min buffer: the smallest equity / MM over the bars with MM > 0 (NaN if MM is always 0)."""
    return float(buffer_path(bars.series).min())


def liquidations(bars: ConfigBars) -> int:
    """Liquidations: number of events of kind "liquidation"."""
    return int((bars.events["kind"] == "liquidation").sum())


def bankruptcy_loss(bars: ConfigBars) -> float:
    """Bankruptcy loss: cumulative loss beyond the liquidated margin, at the last bar."""
    return float(bars.series["bankruptcy_loss"].iloc[-1])


def fees(bars: ConfigBars) -> float:
    """Fees: cumulative trading and liquidation-clearance fees paid, at the last bar."""
    return float(bars.series["fees"].iloc[-1])


def funding(bars: ConfigBars) -> float:
    """Funding: cumulative funding paid (negative = received), at the last bar."""
    return float(bars.series["funding"].iloc[-1])


def _bars_above(threshold: float) -> Metric:
    def metric(bars: ConfigBars) -> int:
        return int((mur_path(bars.series) > threshold).sum())

    metric.__doc__ = f"Bars with MUR above {threshold:.0%}: count of bars with IM / equity > {threshold:g}."
    return metric


METRICS: Mapping[str, Metric] = MappingProxyType(
    {
        "final_equity": final_equity,
        "net_pnl": net_pnl,
        "rom": rom,
        "rom_annualised": rom_annualised,
        "max_mur": max_mur,
        "min_buffer": min_buffer,
        "liquidations": liquidations,
        "bankruptcy_loss": bankruptcy_loss,
        "fees": fees,
        "funding": funding,
        "bars_above_mur_70": _bars_above(MUR_DANGER_LOW),
        "bars_above_mur_80": _bars_above(MUR_DANGER_HIGH),
    }
)
"""Read-only registry: metric name -> function of :class:`ConfigBars`, in summary-column order."""


def definition(metric: str | Callable[..., object]) -> str:
    """The printed definition of a metric (registry name or function): its docstring's first paragraph."""
    doc = (METRICS[metric] if isinstance(metric, str) else metric).__doc__ or ""
    return " ".join(doc.split("\n\n")[0].split())


def split_configs(series: pd.DataFrame, events: pd.DataFrame, bar_seconds: float) -> dict[int, ConfigBars]:
    """Split a run's series and events by ``config`` (ascending), each series sorted by time."""
    return {
        int(config): ConfigBars(
            series=rows.sort_values("time", kind="stable").reset_index(drop=True),
            events=events[events["config"] == config],
            bar_seconds=bar_seconds,
        )
        for config, rows in series.groupby("config", sort=True)
    }


def summarise(series: pd.DataFrame, events: pd.DataFrame, bar_seconds: float) -> list[dict]:
    """Every metric for every config.

    Parameters
    ----------
    series: rows of ``series.parquet`` (all configs); events: rows of ``events.parquet``;
    bar_seconds: bar length in seconds (for the annualised ROM).

    Returns
    -------
    One dict per config in ascending order: ``{"config": int, <metric name>: value, ...}``.
    """
    return [
        {"config": config, **{name: metric(bars) for name, metric in METRICS.items()}}
        for config, bars in split_configs(series, events, bar_seconds).items()
    ]
