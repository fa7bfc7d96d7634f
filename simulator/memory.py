"""Refuse a run that cannot fit in memory before allocating it, with the numbers, instead of dying midway.

The estimate follows the arrays that grow with the run: the market's ``[T, N]`` arrays (prices, marks,
funding, masks, and the generator's temporaries) and the recorder's ``[T, S]`` columns with its
``[T, S, N]`` notionals, which are copied once more into the series table and again when written.
Constants measured with ``ru_maxrss`` on the synthetic market (20,000 bars, 24 instruments: 77 MB for
the market, 806 MB more for 64 books), rounded up.
"""

from __future__ import annotations

import os
from pathlib import Path

from pmsim.simulator.errors import ConfigError
from pmsim.simulator.results import SERIES_COLUMNS

MARKET_BYTES_PER_CELL = 200  # per bar and instrument (measured 160)
BOOK_COPIES = 3  # recorder arrays, the series table, the writer's buffers (measured 2.2)
GIB = 1024**3


def run_bytes(n_bars: int, n_books: int, n_instruments: int) -> int:
    """Estimated peak bytes of a run of ``n_books`` books over ``n_bars`` bars of ``n_instruments``."""
    market = n_bars * n_instruments * MARKET_BYTES_PER_CELL
    books = n_bars * n_books * (len(SERIES_COLUMNS) + n_instruments) * 8 * BOOK_COPIES
    return market + books


def available_bytes() -> int | None:
    """Memory the system can give without swapping (``MemAvailable``), or None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def require_memory(n_bars: int, n_books: int, n_instruments: int) -> None:
    """Raise a one-line ``ConfigError`` if the run's estimate exceeds the memory available now."""
    need, have = run_bytes(n_bars, n_books, n_instruments), available_bytes()
    if have is not None and need > have:
        raise ConfigError(
            f"this run needs about {need / GIB:,.1f} GiB of memory ({n_bars:,} bars x {n_books:,} books x "
            f"{n_instruments:,} instruments) but {have / GIB:,.1f} GiB is available; "
            "use fewer bars (market.bars or a shorter window) or fewer books"
        )
