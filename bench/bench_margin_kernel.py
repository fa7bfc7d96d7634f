"""Margin requirements of one book (S = 1): calls per second of the compiled kernel against the regime.

Run from the checkout: ``python -m bench.bench_margin_kernel [--calls N]``. Three numbers per regime:
the reference ``regime.requirements(qty[None], mark, when)``, ``requirements_row`` called from Python
(dispatch overhead included) and from inside an njit loop (how the compiled bar loop calls it).
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from pmsim.simulator.kernel.margin import compile_margin, requirements_row
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.instruments import instrument_for

SYMBOLS = ("BTCUSDT", "BTCUSDT_241227", "ETHUSDT", "ETHUSDT_241227")
QTY = np.array([2.0, -1.5, -30.0, 25.0])
MARK = np.array([60_000.0, 61_500.0, 2_500.0, 2_560.0])
VARIANTS = {
    "cross": ("cross", {}),
    "isolated": ("isolated", {}),
    "standard": ("standard", {}),
    "pm deribit": ("portfolio", {"preset": "deribit"}),
    "pm okx": ("portfolio", {"preset": "okx"}),
    "pm correlated": ("portfolio", {"cross_underlying": "correlated"}),
    "pm span cme": ("portfolio", {"preset": "cme", "cross_underlying": "span", "credit_rate": 0.5}),
}


@numba.njit(nogil=True)
def kernel_loop(tables, slots, qty, mark, im_pos, mm_pos, work, calls):  # noqa: ANN001, ANN201
    total = 0.0
    for k in range(calls):
        im, mm = requirements_row(tables, slots[k % len(slots)], qty, mark, im_pos, mm_pos, work)
        total += im + mm
    return total


def rate(fn, calls: int) -> float:
    start = time.perf_counter()
    fn(calls)
    return calls / (time.perf_counter() - start)


def measure(regime, instants: np.ndarray, calls: int) -> tuple[float, float, float]:
    """Calls per second: reference, ``requirements_row`` from Python, ``requirements_row`` in njit."""
    c = compile_margin(regime, instants)
    im_pos, mm_pos, work = np.zeros(len(SYMBOLS)), np.zeros(len(SYMBOLS)), np.zeros(c.work_size)
    kernel_loop(c.tables, c.slot, QTY, MARK, im_pos, mm_pos, work, 1)  # compile

    def reference(n: int) -> None:
        for k in range(n):
            regime.requirements(QTY[None], MARK, instants[k % len(instants)])

    def python_row(n: int) -> None:
        for k in range(n):
            requirements_row(c.tables, c.slot[k % len(c.slot)], QTY, MARK, im_pos, mm_pos, work)

    def njit_row(n: int) -> None:
        kernel_loop(c.tables, c.slot, QTY, MARK, im_pos, mm_pos, work, n)

    return rate(reference, calls // 10), rate(python_row, calls), rate(njit_row, calls * 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    calls = parser.parse_args().calls
    instruments = tuple(instrument_for(s) for s in SYMBOLS)
    instants = np.arange(
        np.datetime64("2024-09-01", "ms"), np.datetime64("2024-12-01", "ms"), np.timedelta64(1, "h")
    )
    print(f"{'regime':16s} {'reference/s':>12s} {'row (py)/s':>12s} {'row (njit)/s':>13s} {'speed-up':>9s}")
    for label, (name, params) in VARIANTS.items():
        ref, py, nj = measure(make_regime(name, instruments, **params), instants, calls)
        print(f"{label:16s} {ref:12,.0f} {py:12,.0f} {nj:13,.0f} {nj / ref:8,.0f}x")


if __name__ == "__main__":
    main()
