"""Shared fixtures for the margin tests: instruments, a valuation instant, and the 2020/21 Binance brackets."""

from __future__ import annotations

import numpy as np
import pytest
from pmsim.simulator.market.instruments import instrument_for

WHEN = np.datetime64("2024-09-27T08:00", "ms")
INSTRUMENTS = tuple(instrument_for(s) for s in ("BTCUSDT", "BTCUSDT_241227", "ETHUSDT", "ETHUSDT_241227"))
MARKS = np.array([60_000.0, 61_500.0, 2_500.0, 2_560.0])


@pytest.fixture(scope="session")
def when() -> np.datetime64:
    return WHEN


@pytest.fixture(scope="session")
def instruments() -> tuple:
    return INSTRUMENTS


@pytest.fixture(scope="session")
def marks() -> np.ndarray:
    return MARKS
