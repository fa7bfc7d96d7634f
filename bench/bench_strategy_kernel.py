"""The strategy's per-bar part, compiled against Python: book-bars per second of ``decide_row`` called from
a numba loop, and of ``AdxTrend.decide`` on all books at once.

Run: ``python bench/bench_strategy_kernel.py [--bars N] [--books S]``. Signals (ta's lines) are computed
once by ``prepare`` for both and are not timed; the first compiled call (numba's compile or cache load) is.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from pmsim.simulator.market.synthetic import generate_market
from pmsim.strategies import AdxTrend
from pmsim.strategies.base import BarView
from pmsim.strategies.kernels import compile_strategy, decide_row


@numba.njit(nogil=True)
def every_bar(data, state, budget, n_instruments, n_traded):  # noqa: ANN001, ANN201
    """``decide_row`` for every bar and book, as the engine's kernel calls it; returns the stops seen."""
    out, stops, seen = np.empty(n_instruments), np.empty((2 * n_traded, 3)), 0
    for t in range(budget.shape[0]):
        for s in range(budget.shape[1]):
            seen += decide_row(data, state, s, t, budget[t, s], out, stops)
    return seen


def book(n_books: int) -> AdxTrend:
    rng = np.random.default_rng(0)
    entry = rng.uniform(15, 35, n_books)
    return AdxTrend(
        window=rng.choice([24, 48, 96, 168], n_books).tolist(),
        entry=entry.tolist(),
        exit=(entry - 5).tolist(),
        full_at=(entry + 20).tolist(),
        stop_loss=0.05,
        trailing_stop=0.08,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=8760)
    parser.add_argument("--books", type=int, default=256)
    args = parser.parse_args()
    market = generate_market(seed=7, bars=args.bars)
    budget = np.full((market.n_bars, args.books), 100_000.0)
    n_instruments = len(market.instruments)

    python = book(args.books)
    python.prepare(market)
    start, qty = time.perf_counter(), np.zeros((args.books, n_instruments))
    for t in range(market.n_bars):
        python.decide(BarView.at(market, t, budget[t], qty))
        python.drain_events()
    reference = time.perf_counter() - start

    compiled = book(args.books)
    compiled.prepare(market)
    start = time.perf_counter()
    kernel = compile_strategy(compiled, market)
    every_bar(kernel.data, kernel.state, budget[:1], n_instruments, kernel.n_traded)  # compile
    first = time.perf_counter() - start
    kernel = compile_strategy(compiled, market)
    start = time.perf_counter()
    stops = every_bar(kernel.data, kernel.state, budget, n_instruments, kernel.n_traded)
    fast = time.perf_counter() - start

    rows = market.n_bars * args.books
    print(f"{market.n_bars} bars x {args.books} books, {kernel.n_traded} traded, {stops} stops")
    print(f"python  decide:     {rows / reference:14,.0f} book-bars/s ({reference:6.2f} s)")
    print(f"numba   decide_row: {rows / fast:14,.0f} book-bars/s ({fast:6.3f} s; first call {first:.1f} s)")


if __name__ == "__main__":
    main()
