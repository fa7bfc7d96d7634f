"""Engine throughput on the demo market: bars per second at S = 1, bar-configs per second at S = 1024.

Run: ``python bench/bench_engine.py [--bars N]``. Both sizes are timed in the same run, so the ratio
(how much the batch axis buys) is comparable across machines even when absolute numbers are not.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from pmsim.simulator.allocator import Allocator, MurCap, RebalanceBand
from pmsim.simulator.engine.engine import simulate
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.synthetic import generate_market
from pmsim.strategies import AdxTrend
from threadpoolctl import threadpool_limits


def adx_book(
    n_configs: int, rng: np.random.Generator, windows: tuple[int, ...] = (24, 48, 96, 168)
) -> AdxTrend:
    """A sweep: S parameter sets over ``windows``, random thresholds, fractions and leverages."""
    return AdxTrend(
        window=rng.choice(windows, n_configs).tolist(),
        entry=rng.uniform(15, 35, n_configs).tolist(),
        fraction=rng.uniform(0.1, 1.0, n_configs).tolist(),
        leverage=rng.uniform(1, 5, n_configs).tolist(),
        symbols=("BTCUSDT", "ETHUSDT"),
    )


def measure(market, regime_name: str, n_configs: int) -> float:
    regime = make_regime(regime_name, market.instruments)
    strategy = adx_book(n_configs, np.random.default_rng(0))
    allocator = Allocator((RebalanceBand(0.1), MurCap(0.7)))
    start = time.perf_counter()
    simulate(market, regime, strategy, allocator, 100_000.0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=8760)
    parser.add_argument("--regimes", nargs="+", default=["cross", "portfolio"])
    args = parser.parse_args()
    market = generate_market(seed=7, bars=args.bars)
    print(f"market: {market.n_bars} bars x {len(market.instruments)} instruments")
    with threadpool_limits(limits=1, user_api="blas"):
        for regime in args.regimes:
            one = measure(market, regime, 1)
            batch = measure(market, regime, 1024)
            per_bar_one = market.n_bars / one
            per_bar_batch = market.n_bars * 1024 / batch
            print(
                f"{regime:10s} S=1: {per_bar_one:9,.0f} bars/s ({one:6.2f} s)   "
                f"S=1024: {per_bar_batch:12,.0f} bar-configs/s ({batch:6.2f} s)   "
                f"batch speed-up {per_bar_batch / per_bar_one:6.1f}x"
            )


if __name__ == "__main__":
    main()
