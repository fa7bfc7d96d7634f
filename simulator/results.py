"""Run folders: the only thing reports read.

A run folder holds
- ``config.json``   the fully resolved run config (what ran, with defaults filled in);
- ``series.parquet`` one row per bar and config: ``time, config, equity, wallet, upnl, im, mm, mur, buffer,
  free, realised, fees, funding, bankruptcy_loss, deposits, shock_distance`` (the multiple of the
  configured stress move that would liquidate the book; NaN on bars not probed) and ``notional:{symbol}`` per instrument
  (signed, at mark);
- ``prices.parquet`` one row per bar: ``time`` and ``mark:{symbol}`` (mark close, NaN when not listed);
- ``events.parquet`` one row per event: ``time, config, kind, symbol, qty, price, amount, note``;
- ``summary.json``   ``{"name", "market": {source, symbols, notes, start, end, bars}, "regime", "strategy",
  "allocator" (the resolved rules), "thresholds" (ruin floor, ROM flag limits, MUR lines), "labels": [...],
  "configs": [{"config", <metric>: value, ..., "decisions": {kind: {rule: count}}}, ...]}``; the metrics
  and their definitions are ``simulator.metrics.METRICS`` (MUR and buffer: ``mur_of``, ``buffer_of``).
The folder is written whole and atomically: a failed write leaves no folder and keeps an older one intact.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pmsim.simulator.atomic import atomic_dir
from pmsim.simulator.errors import RunError

FILES = ("config.json", "series.parquet", "prices.parquet", "events.parquet", "summary.json")
EVENT_KINDS = ("fill", "funding", "liquidation", "bankruptcy", "expiry", "cut", "rejection", "stage", "stop")
SERIES_COLUMNS = (
    "equity",
    "wallet",
    "upnl",
    "im",
    "mm",
    "mur",
    "buffer",
    "free",
    "realised",
    "fees",
    "funding",
    "bankruptcy_loss",
    "deposits",
    "shock_distance",
)


@dataclass(frozen=True)
class RunFolder:
    """A run read back from disk."""

    path: Path
    config: dict[str, Any]
    series: pd.DataFrame
    prices: pd.DataFrame
    events: pd.DataFrame
    summary: dict[str, Any]

    @property
    def labels(self) -> list[str]:
        return list(self.summary.get("labels", []))

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.path.name)


def _json_ready(value: Any) -> Any:
    """Replace non-finite floats with None so the JSON is strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return _json_ready(value.item())
    return value


def dump_json(value: Any) -> str:
    return json.dumps(_json_ready(value), indent=2, sort_keys=False, allow_nan=False) + "\n"


def write_run(
    path: str | Path,
    *,
    config: dict[str, Any],
    series: pd.DataFrame,
    prices: pd.DataFrame,
    events: pd.DataFrame,
    summary: dict[str, Any],
) -> Path:
    """Write a run folder atomically (replacing an older folder only once the new one is complete)."""
    path = Path(path)
    with atomic_dir(path) as tmp:
        (tmp / "config.json").write_text(dump_json(config), encoding="utf-8")
        series.to_parquet(tmp / "series.parquet", index=False)
        prices.to_parquet(tmp / "prices.parquet", index=False)
        events.to_parquet(tmp / "events.parquet", index=False)
        (tmp / "summary.json").write_text(dump_json(summary), encoding="utf-8")
    return path


def read_run(path: str | Path) -> RunFolder:
    """Read a run folder; a missing or partial folder is a RunError naming the missing file."""
    path = Path(path)
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        raise RunError(
            f"{path} is not a complete run folder (missing {', '.join(missing)}); run `pmsim demo` first"
        )
    try:
        return RunFolder(
            path=path,
            config=json.loads((path / "config.json").read_text(encoding="utf-8")),
            series=pd.read_parquet(path / "series.parquet"),
            prices=pd.read_parquet(path / "prices.parquet"),
            events=pd.read_parquet(path / "events.parquet"),
            summary=json.loads((path / "summary.json").read_text(encoding="utf-8")),
        )
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: cannot read run folder ({exc})") from exc
