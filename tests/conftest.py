"""Shared fixtures: where the staged real history lives, and the brackets of Binance's worked example."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from pmsim.simulator.margin.brackets import BracketBook, BracketTable

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``PMSIM_DATA_DIR`` (CI sets it) or the ``shared/data`` folder beside the checkout."""
    return Path(os.environ.get("PMSIM_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture
def data_dir() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real history not found at {path}; set PMSIM_DATA_DIR to shared/data")
    return path


# research/margin-rules.md §1.2 "BTCUSDT ~mid-2021" and "ETHUSDT (era of the Binance example)"
BTC_2021 = [
    [0, 5e4, 125, 0.004, 0],
    [5e4, 2.5e5, 100, 0.005, 50],
    [2.5e5, 1e6, 50, 0.01, 1300],
    [1e6, 5e6, 20, 0.025, 16300],
    [5e6, 2e7, 10, 0.05, 141300],
    [2e7, 5e7, 5, 0.1, 1141300],
    [5e7, 1e8, 4, 0.125, 2391300],
    [1e8, 2e8, 3, 0.15, 4891300],
    [2e8, 3e8, 2, 0.25, 24891300],
    [3e8, 5e8, 1, 0.5, 99891300],
]
ETH_2021 = [
    [0, 1e4, 100, 0.005, 0],
    [1e4, 1e5, 75, 0.0065, 15],
    [1e5, 5e5, 50, 0.01, 365],
    [5e5, 1e6, 25, 0.02, 5365],
    [1e6, 2e6, 10, 0.05, 35365],
    [2e6, 5e6, 5, 0.1, 135365],
    [5e6, 1e7, 4, 0.125, 260365],
    [1e7, 2e7, 3, 0.15, 510365],
    [2e7, 1e9, 2, 0.25, 2510365],
]


def bracket_table(group: str, tiers: list[list[float]]) -> BracketTable:
    a = np.array(tiers, dtype=float)
    return BracketTable(
        group, np.datetime64("2021-01-01", "ms"), a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], "test"
    )


@pytest.fixture(scope="session")
def brackets_2021() -> BracketBook:
    """The brackets of Binance's published cross-margin example (margin-rules.md §1.4 A)."""
    return BracketBook(
        [bracket_table("BTCUSDT", BTC_2021), bracket_table("ETHUSDT", ETH_2021)], "2020/21 tables"
    )
