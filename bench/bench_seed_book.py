"""``examples/seed_book.toml`` on the staged history: seconds and bar-configs/s at S = 1 and a batch S.

Run: ``python bench/bench_seed_book.py [--data DIR] [--books 1 1024] [--end 2025-03-10]``. The batch
sweeps the sizing rules in lockstep: S basis entry thresholds (3 % .. 10 %), S ADX entry thresholds
(18 .. 30), S MUR caps (0.6 .. 0.8) and S stage ladders (first stage 0.25 .. 0.5). The market is
loaded once, outside the timing; the timed part is the whole run (engine, ledger, recorder, series).

Measured 2026-11-26 on the 2-core helper machine under load from other jobs (portfolio margin, Deribit
preset): full history (14,856 bars x 18 instruments) S = 1: 243.6 s, 61 bars/s; S = 256: 637.2 s,
5,969 bar-configs/s. S = 1024 over the full history needs about 10 GB for the series (per-sleeve
notionals included), more than was free; on 2023-07 .. 2023-08 (1,488 bars x 6 instruments) S = 1:
15.0 s, 99 bar-configs/s; S = 1024: 67.1 s, 22,704 bar-configs/s.

PortfolioRegime reusing what it derived (scenario set per instant, the last results for the same books,
products over held instruments only; results bit-identical), measured 2026-11-26 in CPU seconds with the
old and new code run back to back (load 1-5; wall times were up to 2x these): full history S = 1, three
pairs: 44.2 -> 35.0, 51.7 -> 29.5, 42.8 -> 24.0 s (287-347 -> 425-619 bars per CPU-second); 2023-07
(744 bars x 4 instruments) S = 1024, two pairs: 71,900 -> 78,600 and 86,300 -> 94,000 bar-configs per
CPU-second. Of ~9.6 requirements calls per bar, ~4.6 are computed; the rest are reused.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from pmsim.simulator.build import build_market, build_run
from pmsim.simulator.config import RunConfig
from pmsim.simulator.tomlfile import read_toml

SEED_BOOK = Path(__file__).resolve().parents[1] / "examples" / "seed_book.toml"


def config(n_books: int, data: str, end: str | None) -> RunConfig:
    """The seed book with every swept parameter given as a list over ``n_books`` books."""
    raw = read_toml(SEED_BOOK, "config")
    raw["market"]["data"] = data
    if end:
        raw["market"]["end"] = end
    core, trend = raw["sleeves"]
    if n_books > 1:
        sweep = np.linspace(0.0, 1.0, n_books)
        core["params"]["entry"] = (0.03 + 0.07 * sweep).tolist()
        trend["params"]["entry"] = (18.0 + 12.0 * sweep).tolist()
        raw["allocator"]["mur_cap"] = (0.6 + 0.2 * sweep).tolist()
        trend["budget"]["stages"] = [[0.25 + 0.25 * s, 0.5 + 0.25 * s, 1.0] for s in sweep]
    return RunConfig.from_dict(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.environ.get("PMSIM_DATA_DIR", "../shared/data"))
    parser.add_argument("--books", type=int, nargs="+", default=[1, 1024])
    parser.add_argument("--end", default=None, help="last bar (default: the example's, 2025-03-10)")
    args = parser.parse_args()
    market = build_market(config(1, args.data, args.end).market)
    print(f"market: {market.n_bars} bars x {len(market.instruments)} instruments ({market.source})")
    for n_books in args.books:
        run = build_run(config(n_books, args.data, args.end), market)
        start = time.perf_counter()
        run.execute()
        seconds = time.perf_counter() - start
        print(
            f"S={n_books:5d}: {seconds:8.1f} s   {market.n_bars / seconds:8,.0f} bars/s   "
            f"{market.n_bars * n_books / seconds:12,.0f} bar-configs/s"
        )


if __name__ == "__main__":
    main()
