"""Measure loading six years of hourly BTC+ETH perps, marks, funding and all quarterlies into a Market.

Usage: python bench/bench_load_history.py [TIDY_DATA_DIR] — imports the folder (default
$PMSIM_DATA_DIR or /work/shared/data) into a temporary cache, then times ``load_market`` from it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from pmsim.simulator.data.assemble import load_market
from pmsim.simulator.data.cache import Cache
from pmsim.simulator.data.importer import import_folder


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PMSIM_DATA_DIR", "/work/shared/data"))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Cache(tmp)
        started = time.perf_counter()
        import_folder(source, cache)
        print(f"import {source} -> cache: {time.perf_counter() - started:.2f} s")
        load_market(cache.root)  # warm imports and the OS file cache
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            market = load_market(cache.root)
            timings.append(time.perf_counter() - started)
        tracemalloc.start()
        load_market(cache.root)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    years = market.n_bars / (24 * 365.25)
    print(f"market: {market.n_bars} bars ({years:.1f} years) x {len(market.instruments)} instruments")
    print(
        f"load_market from cache: best {min(timings):.3f} s, median {sorted(timings)[1]:.3f} s (target < 1 s)"
    )
    print(f"peak traced memory during load: {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
