"""A many-book run folder: books over a window x entry grid, written with ``simulator.results.write_run``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pmsim.simulator.metrics import summarise
from pmsim.simulator.results import write_run

from tests.reports.conftest import NOTES


def grid_run(path: Path, windows: tuple[int, ...], entries: tuple[float, ...], *, bars: int = 96) -> Path:
    """A run of ``len(windows) x len(entries)`` books varying ``window`` and ``entry`` (``fraction`` fixed).

    Book k (window-major order) holds ``k + 1`` tenths of a BTC on a seeded random walk; every book whose
    window is the largest and entry the smallest is worn to ruin at the last bar. Its label carries
    markup (``<b>``) that must be escaped.
    """
    rng = np.random.default_rng(11)
    time = pd.date_range("2024-03-01", periods=bars, freq="1h", tz="UTC")
    btc = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.004, bars)))
    grid = [(w, e) for w in windows for e in entries]
    frames = []
    for k, (w, e) in enumerate(grid):
        size = (k + 1) / 10
        equity = 10_000 + size * (btc - btc[0])
        if w == max(windows) and e == min(entries):
            equity[-1] = 50.0  # 0.5 % of deposits: ruined
        im = size * btc / 10
        frames.append(
            pd.DataFrame(
                {
                    "time": time,
                    "config": k,
                    "equity": equity,
                    "wallet": 10_000.0,
                    "upnl": equity - 10_000,
                    "im": im,
                    "mm": im / 2,
                    "mur": im / equity,
                    "buffer": equity / (im / 2),
                    "free": equity - im,
                    "realised": 0.0,
                    "fees": 0.0,
                    "funding": 0.0,
                    "bankruptcy_loss": 0.0,
                    "deposits": 10_000.0,
                    "notional:BTCUSDT": size * btc,
                }
            )
        )
    series = pd.concat(frames, ignore_index=True)
    events = pd.DataFrame(
        {"time": time[:1], "config": [0], "kind": ["fill"], "symbol": ["BTCUSDT"], "qty": [0.1]}
        | {"price": [btc[0]], "amount": [1.0], "note": ["open"]}
    )
    summary = {
        "market": {"source": "synthetic (seed 11)", "symbols": ["BTCUSDT"], "notes": NOTES},
        "regime": {"name": "portfolio", "preset": "deribit", "preset_source": "margin-rules.md §4.2"},
        "strategy": {
            "name": "adx",
            "window": [w for w, _ in grid],
            "entry": [e for _, e in grid],
            "fraction": [0.5] * len(grid),
        },
        "allocator": [{"rule": "mur_cap", "cap": 0.7}],
        "labels": [f"adx w={w} <b>in={e:g}</b>" for w, e in grid],
        "configs": summarise(series, events, 3600.0),
    }
    config = {"name": "grid", "resolved": {"allocator": summary["allocator"]}}
    prices = pd.DataFrame({"time": time, "mark:BTCUSDT": btc})
    return write_run(path, config=config, series=series, prices=prices, events=events, summary=summary)
