"""Whole compiled runs: book-bars per second of ``simulate_compiled`` on hourly Hold books under MurCap.

Run from the checkout: ``python -m bench.bench_kernel_bars [--books S --bars T]``. Per regime (cross,
portfolio) the first call's seconds (the JIT compile, or loading it from numba's cache) and the fastest of
``--repeat`` calls at S books x T bars, ``record=False`` as in sweeps, with a digest of the series, events and
final account so variants of the kernel can be checked for identical results.
"""

from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np
import pandas as pd
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.engine.engine import Simulation
from pmsim.simulator.kernel.run import simulate_compiled
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies.hold import Hold


def market(n_bars: int) -> Market:
    """Two perpetuals on random walks, funding every eight hours."""
    rng = np.random.default_rng(0)
    btc = 40_000 * np.exp(np.cumsum(rng.normal(0, 0.01, n_bars)))
    eth = 2_500 * np.exp(np.cumsum(rng.normal(0, 0.012, n_bars)))
    return handmade_market({"BTCUSDT": btc, "ETHUSDT": eth}, funding={"BTCUSDT": 1e-4, "ETHUSDT": 1e-4})


def run(on: Market, regime: str, n_books: int) -> Simulation:
    rng = np.random.default_rng(1)
    books = [{"BTCUSDT": float(a), "ETHUSDT": float(b)} for a, b in rng.uniform(-3, 3, (n_books, 2))]
    return simulate_compiled(
        on,
        make_regime(regime, on.instruments),
        Hold(leverage=books),
        Allocator((MurCap(0.7),)),
        10_000.0,
        record=False,
    )


def digest(sim: Simulation) -> str:
    parts = (
        pd.util.hash_pandas_object(sim.series.reset_index(drop=True), index=False).to_numpy(),
        pd.util.hash_pandas_object(sim.events.astype(str), index=False).to_numpy(),
        sim.account.qty,
        sim.account.wallet,
    )
    return hashlib.sha256(b"".join(np.ascontiguousarray(p).tobytes() for p in parts)).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--books", type=int, default=256)
    parser.add_argument("--bars", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="timed calls; the fastest counts")
    args = parser.parse_args()
    on = market(args.bars)
    for regime in ("cross", "portfolio"):
        start = time.perf_counter()
        run(market(50), regime, 2)
        first = time.perf_counter() - start
        seconds = np.inf
        for _ in range(args.repeat):
            start = time.perf_counter()
            sim = run(on, regime, args.books)
            seconds = min(seconds, time.perf_counter() - start)
        rate = args.books * args.bars / seconds
        print(f"{regime:10s} first call {first:6.1f} s  S={args.books} T={args.bars}: {seconds:6.3f} s")
        print(f"{'':10s} {rate:,.0f} book-bars/s ({1e6 / rate:.2f} us each), digest {digest(sim)}")


if __name__ == "__main__":
    main()
