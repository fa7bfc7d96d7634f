"""Fixtures for the data tests: the staged real history, skipped with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def real_data() -> Path:
    """The staged real history (``PMSIM_DATA_DIR``, default /work/shared/data)."""
    root = Path(os.environ.get("PMSIM_DATA_DIR", "/work/shared/data"))
    if not (root / "binance-um" / "klines" / "1h" / "BTCUSDT.csv").exists():
        pytest.skip(f"real history not staged at {root} (set PMSIM_DATA_DIR)")
    return root
