"""Run folders: the only thing reports read.

A run folder holds
- ``config.json``   the fully resolved run config (what ran, with defaults filled in);
- ``series.parquet`` one row per bar and config: ``time, config, equity, wallet, upnl, im, mm, mur, buffer,
  free, realised, fees, funding, bankruptcy_loss, deposits, shock_distance`` (the multiple of the
  configured stress move that would liquidate the book; NaN on bars not probed) and ``notional:{symbol}``
  per instrument (signed, at mark); with more than one sleeve also, per sleeve ``pnl@{sleeve}`` (realised +
  unrealised - fees - funding + its bankruptcy share), ``fees@``, ``funding@``, ``im@`` (the regime's IM of
  the sleeve's positions alone), ``budget@`` (what it sized against at that close) and
  ``notional@{sleeve}:{symbol}``;
- ``prices.parquet`` one row per bar: ``time`` and ``mark:{symbol}`` (mark close, NaN when not listed);
- ``events.parquet`` one row per event: ``time, config, kind, symbol, qty, price, amount, note, sleeve``
  (``sleeve``: the sleeve an event concerns, "" for the account's own events);
- ``summary.json``   ``{"name", "market": {source, symbols, notes, start, end, bars}, "regime", "strategy",
  "allocator" (the resolved rules), "thresholds" (ruin floor, ROM flag limits, MUR lines), "labels": [...],
  "configs": [{"config", <metric>: value, ..., "decisions": {kind: {rule: count}}}, ...]}``; the metrics
  and their definitions are ``simulator.metrics.METRICS`` (MUR and buffer: ``mur_of``, ``buffer_of``).
- ``.pmsim-run.json`` the marker that says pmsim wrote the folder (``{"kind": "run", "version": ...}``);
- ``report.html``    optional: the run's own report (``pmsim run --report``), written with the folder.
The folder is written whole, locked and crash-safe (``simulator.atomic``): a failed or killed write keeps
an older folder intact. pmsim replaces only a folder it wrote (the marker, or before markers the files
every run has) that holds nothing else, and only when asked (``force``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from pmsim.simulator.atomic import atomic_dir, recover
from pmsim.simulator.errors import RunError

from pmsim import __version__

FILES = ("config.json", "series.parquet", "prices.parquet", "events.parquet", "summary.json")
MARKER = ".pmsim-run.json"
REPORT = "report.html"
LEGACY_FILES = ("config.json", "summary.json", "series.parquet")  # a run folder written before markers
EVENT_KINDS = (
    "fill",
    "funding",
    "liquidation",
    "bankruptcy",
    "expiry",
    "cut",
    "rejection",
    "stage",
    "stop",
    "roll",
    "entry",
    "exit",
)
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
SLEEVE_COLUMNS = ("pnl", "fees", "funding", "im", "budget")  # per sleeve: ``{column}@{sleeve}``


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

    def write(
        self, path: str | Path, force: bool = False, extra: Callable[[Path], object] | None = None
    ) -> Path:
        """Write these contents as the run folder ``path`` (see ``write_run``)."""
        return write_run(
            path,
            config=self.config,
            series=self.series,
            prices=self.prices,
            events=self.events,
            summary=self.summary,
            force=force,
            extra=extra,
        )


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


def is_run_folder(path: Path) -> bool:
    """Whether pmsim wrote the folder ``path``: it has the marker (or, from before markers, the run files)."""
    if path.is_symlink() or not path.is_dir():
        return False
    marker = path / MARKER
    if not marker.exists():
        return all((path / name).is_file() for name in LEGACY_FILES)
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("kind") == "run"
    except (OSError, ValueError, AttributeError):
        return False


def inside_run(path: Path) -> Path | None:
    """The run folder that ``path`` would sit inside, if any (symbolic links followed)."""
    return next((folder for folder in Path(path).resolve().parents if is_run_folder(folder)), None)


def inside_pmsim_folder(path: Path) -> tuple[str, Path] | None:
    """The kind and folder of the run, comparison or sweep that ``path`` would sit inside, if any: pmsim
    replaces such a folder whole (``--force``), so nothing else may be written into it."""
    from pmsim.simulator.compare.folder import is_compare_folder
    from pmsim.simulator.sweep.store import read_marker

    for folder in Path(path).resolve().parents:
        if is_run_folder(folder):
            return "run", folder
        if is_compare_folder(folder):
            return "comparison", folder
        if read_marker(folder) is not None:
            return "sweep", folder
    return None


def check_run_target(path: Path, force: bool = False) -> None:
    """Refuse a run folder target that is not a run pmsim wrote, or that is one and ``force`` is off."""
    outer = inside_pmsim_folder(path)
    if outer is not None:
        raise RunError(f"{path} is inside the {outer[0]} folder {outer[1]}; choose an --out outside it")
    if not os.path.lexists(path):
        return
    if not is_run_folder(path):
        raise RunError(
            f"{path} exists and is not a pmsim run folder; pmsim replaces only what it wrote: "
            "choose another --out"
        )
    foreign = sorted(set(os.listdir(path)) - {*FILES, MARKER, REPORT})
    if foreign:
        raise RunError(f"{path} holds files pmsim did not write ({', '.join(foreign)}); move them out first")
    if not force:
        raise RunError(f"{path} already holds a pmsim run; pass --force to replace it")


def write_run(
    path: str | Path,
    *,
    config: dict[str, Any],
    series: pd.DataFrame,
    prices: pd.DataFrame,
    events: pd.DataFrame,
    summary: dict[str, Any],
    force: bool = False,
    extra: Callable[[Path], object] | None = None,
) -> Path:
    """Write a run folder crash-safely; ``force`` allows replacing a run folder pmsim wrote.

    ``extra(folder)`` may add derived files (the run's own report) to the complete folder before it is
    swapped in. Raises RunError for a target pmsim may not replace, a locked target or a failed write.
    """
    path = Path(path)
    with atomic_dir(path, check=partial(check_run_target, force=force)) as tmp:
        (tmp / "config.json").write_text(dump_json(config), encoding="utf-8")
        series.to_parquet(tmp / "series.parquet", index=False)
        prices.to_parquet(tmp / "prices.parquet", index=False)
        events.to_parquet(tmp / "events.parquet", index=False)
        (tmp / "summary.json").write_text(dump_json(summary), encoding="utf-8")
        if extra is not None:
            extra(tmp)
        (tmp / MARKER).write_text(dump_json({"kind": "run", "version": __version__}), encoding="utf-8")
    return path


def read_run(path: str | Path) -> RunFolder:
    """Read a run folder; a missing or partial folder is a RunError naming the missing file."""
    path = Path(path)
    recover(path)
    if not path.is_dir():
        raise RunError(f"{path} is not a complete run folder (not a folder); give folders `pmsim run` wrote")
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        runs = sorted(str(p) for p in path.iterdir() if (p / "summary.json").is_file())
        written = "give a folder `pmsim run`, `pmsim demo` or `pmsim.run(out=...)` wrote"
        hint = f"it holds run folders, name them: {' '.join(runs[:3])}" if runs else written
        raise RunError(f"{path} is not a complete run folder (missing {', '.join(missing)}); {hint}")
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
