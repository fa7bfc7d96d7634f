"""Portfolio-margin requirements per bar at S = 4096 books, N = 6 instruments, full scenario set.

Prints microseconds per bar for each portfolio preset and mode, and the cross regime measured in
the same run as the yardstick (ratios, not absolute times, are what compare across machines).
Run: ``python bench/bench_pm.py``. BLAS is pinned to one thread (set the variables to override): the
products here are small ([4096, 6] @ [6, K]) and a threaded BLAS on a busy 2-core machine ran them
~50x slower than one thread did.

Here every bar is a new instant with new marks and all six instruments are held, so nothing is reused:
CPU time per call at S = 4096 (2026-11-26, old and new code back to back) rose 5-15 % with the reuse
checks (deribit 1,695 -> 1,783 us, correlated 3,379 -> 3,712 us); with two of the six instruments held
it fell by a third (deribit 1,617 -> 1,087 us).
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
from pmsim.simulator.margin import make_regime  # noqa: E402
from pmsim.simulator.market.instruments import instrument_for  # noqa: E402

S = 4096
SYMBOLS = ("BTCUSDT", "BTCUSDT_241227", "BTCUSDT_250328", "ETHUSDT", "ETHUSDT_241227", "ETHUSDT_250328")
BARS = 200


def per_bar_us(regime, qty: np.ndarray, marks: np.ndarray, times: np.ndarray) -> float:
    regime.requirements(qty, marks[0], times[0])  # warm caches
    start = time.perf_counter()
    for t in range(BARS):
        regime.requirements(qty, marks[t], times[t])
    return (time.perf_counter() - start) / BARS * 1e6


def main() -> None:
    rng = np.random.default_rng(0)
    instruments = tuple(instrument_for(s) for s in SYMBOLS)
    qty = rng.normal(0, 5, (S, len(SYMBOLS))) * np.array([1, 1, 1, 20, 20, 20])
    base = np.array([60_000, 61_500, 62_800, 2_500, 2_560, 2_610.0])
    marks = base * np.exp(np.cumsum(rng.normal(0, 0.003, (BARS, len(SYMBOLS))), axis=0))
    times = np.datetime64("2024-09-27T08:00", "ms") + np.arange(BARS) * np.timedelta64(3_600_000, "ms")
    cross = per_bar_us(make_regime("cross", instruments), qty, marks, times)
    print(f"S={S} N={len(SYMBOLS)} bars={BARS}")
    print(f"{'cross':<34}{cross:>10.0f} us/bar   1.00x")
    variants = [
        ("portfolio deribit per_underlying", {"preset": "deribit"}),
        ("portfolio okx per_underlying", {"preset": "okx"}),
        ("portfolio bybit per_underlying", {"preset": "bybit"}),
        ("portfolio correlated (256 dirs)", {"cross_underlying": "correlated"}),
        ("portfolio cme span", {"preset": "cme", "cross_underlying": "span", "credit_rate": 0.5}),
    ]
    for label, params in variants:
        regime = make_regime("portfolio", instruments, **params)
        k = regime.scenarios(times[0]).matrix().shape[1]
        us = per_bar_us(regime, qty, marks, times)
        print(f"{label:<34}{us:>10.0f} us/bar {us / cross:6.2f}x  (K={k})")


if __name__ == "__main__":
    main()
