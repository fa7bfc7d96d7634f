"""The capital table: one row per regime x book, a pure function of the comparison's run folders.

Every value is taken over the bars up to a ruin (``metrics.ConfigBars.lived``), with the metrics'
own MUR, buffer, ROE and ROM. Capital freed is measured against the isolated run of the same book:
``freed = mean IM (isolated) - mean IM (regime)`` and ``freed % = freed / mean IM (isolated)`` (NaN when
isolated was not compared). In ``positions`` mode the books are identical, so this is exactly the margin
the regime releases; in ``rules`` mode each regime's positions differ and it mixes both effects.
Liquidations are the events a regime took (``rules``) or would have forced (``positions``: events of
kind ``would_liquidate``, the first bar of each breach; ``breach_bars`` counts every bar in breach).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pmsim.simulator import metrics
from pmsim.simulator.compare.evaluate import WOULD
from pmsim.simulator.compare.regimes import RegimeChoice
from pmsim.simulator.results import RunFolder

COLUMNS = (
    "mode",
    "regime",
    "legend",
    "config",
    "book",
    "mean_im",
    "p95_im",
    "mean_free",
    "freed_vs_isolated",
    "freed_vs_isolated_pct",
    "max_mur",
    "bars_above_mur_70",
    "bars_above_mur_80",
    "min_buffer",
    "liquidations",
    "breach_bars",
    "min_shock_distance",
    "ruined",
    "roe",
    "rom",
    "max_drawdown",
)


def choice_of(folder: RunFolder) -> RegimeChoice:
    """The regime a run folder ran (its resolved regime's name and preset)."""
    regime = folder.summary.get("regime") or {}
    return RegimeChoice(str(regime.get("name", "unknown")), regime.get("preset"))


def bar_seconds(series: pd.DataFrame) -> float:
    times = pd.DatetimeIndex(pd.to_datetime(series["time"], utc=True).unique()).sort_values()
    return float(np.median(np.diff(times.asi8)) / 1e9) if len(times) > 1 else float("nan")


def max_drawdown(bars: metrics.ConfigBars) -> float:
    """Max drawdown: the deepest fall of equity below its running peak, as a fraction (-1 at a ruin)."""
    if bars.ruin is not None:
        return -1.0
    equity = bars.lived["equity"].to_numpy(dtype=float)
    return float(np.min(equity / np.maximum.accumulate(equity) - 1.0))


def _row(mode: str, folder: RunFolder, config: int, bars: metrics.ConfigBars) -> dict[str, object]:
    lived, choice, labels = bars.lived, choice_of(folder), folder.labels
    im = lived["im"].to_numpy(dtype=float)
    kind = WOULD if mode == "positions" else "liquidation"
    distance = lived["shock_distance"].to_numpy(dtype=float)
    return {
        "mode": mode,
        "regime": choice.label,
        "legend": choice.legend,
        "config": config,
        "book": labels[config] if config < len(labels) else f"config {config}",
        "mean_im": float(im.mean()),
        "p95_im": float(np.percentile(im, 95)),
        "mean_free": float(lived["free"].mean()),
        "max_mur": metrics.max_mur(bars),
        "bars_above_mur_70": metrics.METRICS["bars_above_mur_70"](bars),
        "bars_above_mur_80": metrics.METRICS["bars_above_mur_80"](bars),
        "min_buffer": metrics.min_buffer(bars),
        "liquidations": int((bars.events["kind"] == kind).sum()),
        "breach_bars": int(lived["breach"].sum()) if "breach" in lived else 0,
        "min_shock_distance": float(np.nanmin(distance)) if np.isfinite(distance).any() else float("inf"),
        "ruined": metrics.ruined(bars),
        "roe": metrics.roe(bars),
        "rom": metrics.rom(bars),
        "max_drawdown": max_drawdown(bars),
    }


def capital_table(folders: Sequence[RunFolder], mode: str) -> pd.DataFrame:
    """Rows in folder order, then config order, with the ``COLUMNS`` of ``comparison.parquet``."""
    rows = [
        _row(mode, folder, config, bars)
        for folder in folders
        for config, bars in metrics.split_configs(
            folder.series, folder.events, bar_seconds(folder.series)
        ).items()
    ]
    table = pd.DataFrame(rows)
    isolated = table[table["regime"] == "isolated"].set_index("config")["mean_im"]
    base = table["config"].map(isolated).astype(float)
    table["freed_vs_isolated"] = base - table["mean_im"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["freed_vs_isolated_pct"] = np.where(base > 0, table["freed_vs_isolated"] / base, np.nan)
    return table[list(COLUMNS)]
