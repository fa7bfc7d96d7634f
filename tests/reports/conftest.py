"""A fake run folder written with ``simulator.results.write_run`` from hand-made frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pmsim.simulator.metrics import summarise
from pmsim.simulator.results import EVENT_KINDS, write_run

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BTCUSDT_240628")


def fake_run(
    path: Path,
    *,
    bars: int = 48,
    regime: str = "cross",
    name: str = "demo",
    source: str = "synthetic (seed 7, calibrated to 2021-2024 BTC/ETH)",
    naive: bool = False,
) -> Path:
    """Two configs over ``bars`` hourly bars; config 1 is liquidated on BTCUSDT at bar ``bars // 2``."""
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
            im[bars // 2 :] = 0.0
            pnl[bars // 2 :] = pnl[bars // 2]
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
    series = pd.concat(frames, ignore_index=True)
    events = pd.DataFrame(
        {
            "time": [time[0], time[bars // 2]],
            "config": [0, 1],
            "kind": ["fill", "liquidation"],
            "symbol": ["BTCUSDT", "BTCUSDT"],
            "qty": [0.2, -1.5],
            "price": [btc[0], btc[bars // 2]],
            "amount": [6.0, -42.0],
            "note": ["open", "equity below MM"],
        }
    )
    assert set(events["kind"]) <= set(EVENT_KINDS)
    summary = {
        "market": {"source": source, "symbols": list(SYMBOLS)},
        "regime": {"name": regime, "cross_underlying": "per_underlying"},
        "labels": ["small <0.2 BTC>", "large 1.5 BTC"],
        "configs": summarise(series, events, 3600.0),
    }
    return write_run(
        path, config={"name": name}, series=series, prices=prices, events=events, summary=summary
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
