"""A fake run folder written with ``simulator.results.write_run`` from hand-made frames.

Three books: config 0 holds 0.2 BTC throughout; config 1 (1.5 BTC) is liquidated (by default halfway)
and stays flat; config 2 is a hold book worn down by MUR-cap cuts to 0.5 % of its deposits at bar
``3 * bars // 4`` without any liquidation (ruined), after which its equity drifts back up to 3 % (which
must not count).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pmsim.simulator.metrics import summarise
from pmsim.simulator.results import EVENT_KINDS, write_run

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BTCUSDT_240628")
ALLOCATOR = {"rebalance_band": 0.1, "mur_cap": 0.7}
NOTES = [
    "BTCUSDT_240628: no mark-price bars; last-trade bars stand in for the mark",
    "BTCUSDT_240628: settled at the spot close <index proxy>",
    "ETHUSDT: 3 gap bars carry the last mark",
]


def fake_run(
    path: Path,
    *,
    bars: int = 48,
    regime: str = "cross",
    name: str = "demo",
    source: str = "synthetic (seed 7, calibrated to 2021-2024 BTC/ETH)",
    naive: bool = False,
    allocator: object = ALLOCATOR,
    notes: list | None = NOTES,
    liquidate_at: int | None = None,
    preset: str | None = None,
) -> Path:
    """Three configs over ``bars`` hourly bars (see the module docstring); config 1 is liquidated at
    ``liquidate_at`` (default: halfway)."""
    liquidate_at = bars // 2 if liquidate_at is None else liquidate_at
    rng = np.random.default_rng(7)
    time = pd.date_range("2024-03-01", periods=bars, freq="1h", tz=None if naive else "UTC")
    btc = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.004, bars)))
    prices = pd.DataFrame(
        {
            "time": time,
            "mark:BTCUSDT": btc,
            "mark:ETHUSDT": btc / 20,
            "mark:BTCUSDT_240628": btc * 1.01,
        }
    )
    frames = []
    for config, size in ((0, 0.2), (1, 1.5)):
        pnl = size * (btc - btc[0])
        im = size * btc / 10
        if config == 1:
            im[liquidate_at:] = 0.0
            pnl[liquidate_at:] = pnl[liquidate_at]
        equity = 10_000 + pnl
        frame = pd.DataFrame(
            {
                "time": time,
                "config": config,
                "equity": equity,
                "wallet": 10_000.0,
                "upnl": pnl,
                "im": im,
                "mm": im / 2,
                "mur": im / equity,
                "buffer": equity / np.where(im > 0, im / 2, np.nan),
                "free": equity - im,
                "realised": 0.0,
                "fees": 1.0 * config,
                "funding": 0.5,
                "bankruptcy_loss": 0.0,
                "deposits": 10_000.0,
                "notional:BTCUSDT": size * btc,
                "notional:ETHUSDT": 0.0,
                "notional:BTCUSDT_240628": 0.0,
            }
        )
        frames.append(frame)
    frames.append(worn_down(time, bars))
    series = pd.concat(frames, ignore_index=True)
    ruin = 3 * bars // 4
    cuts = pd.DataFrame(
        {
            "time": time[1 : ruin + 1],
            "config": 2,
            "kind": "cut",
            "symbol": "",
            "qty": np.nan,
            "price": np.nan,
            "amount": 0.9,
            "note": "MUR cap 0.7",
        }
    )
    events = pd.DataFrame(
        {
            "time": [time[0], time[liquidate_at], time[2]],
            "config": [0, 1, 2],
            "kind": ["fill", "liquidation", "rejection"],
            "symbol": ["BTCUSDT", "BTCUSDT", ""],
            "qty": [0.2, -1.5, np.nan],
            "price": [btc[0], btc[liquidate_at], np.nan],
            "amount": [6.0, -42.0, 0.0],
            "note": ["open", "equity below MM", "initial margin check"],
        }
    )
    events = pd.concat([events, cuts], ignore_index=True).sort_values("time", kind="stable")
    assert set(events["kind"]) <= set(EVENT_KINDS)
    summary = {
        "market": {"source": source, "symbols": list(SYMBOLS)},
        "regime": {"name": regime, "cross_underlying": "per_underlying"},
        "labels": ["small <0.2 BTC>", "large 1.5 BTC", "worn down"],
        "configs": summarise(series, events, 3600.0),
    }
    if preset is not None:
        summary["regime"].update(preset=preset, preset_source="margin-rules.md §4.2")
    if notes is not None:
        summary["market"]["notes"] = notes
    config = {"name": name, "resolved": {"allocator": allocator}}
    return write_run(path, config=config, series=series, prices=prices, events=events, summary=summary)


def worn_down(time: pd.DatetimeIndex, bars: int) -> pd.DataFrame:
    """Config 2: equity falls linearly from 10,000 to 50 (0.5 %) at bar 3 * bars // 4, then drifts to 300."""
    ruin = 3 * bars // 4
    equity = np.r_[np.linspace(10_000, 50, ruin + 1), np.linspace(60, 300, bars - ruin - 1)]
    im = 0.7 * equity
    return pd.DataFrame(
        {
            "time": time,
            "config": 2,
            "equity": equity,
            "wallet": equity,
            "upnl": 0.0,
            "im": im,
            "mm": im / 2,
            "mur": 0.7,
            "buffer": 2 / 0.7,
            "free": equity - im,
            "realised": equity - 10_000,
            "fees": 0.0,
            "funding": 0.0,
            "bankruptcy_loss": 0.0,
            "deposits": 10_000.0,
            "notional:BTCUSDT": 7 * equity,
            "notional:ETHUSDT": 0.0,
            "notional:BTCUSDT_240628": 0.0,
        }
    )


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """``make_run(folder_name, **options)`` writes a fake run under tmp_path and returns its folder."""

    def make(folder: str = "run", **options) -> Path:
        return fake_run(tmp_path / folder, **options)

    return make


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two runs on one synthetic market: cross (aware times) and portfolio (naive UTC times)."""
    root = tmp_path_factory.mktemp("runs")
    return [fake_run(root / "cross"), fake_run(root / "pm", regime="portfolio", name="pm", naive=True)]
