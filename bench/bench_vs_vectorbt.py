"""pmsim against vectorbt in one process, on the same synthetic hourly bars and the same S books.

Run: ``python bench/bench_vs_vectorbt.py [--bars 2000] [--configs 1 1024 4096] [--ref-bars 250] [--quick]``.
Sections, each timed on its own:

* ``kernel``: ``pmsim.simulator.kernel.run.simulate_compiled`` (same call as the reference engine), cross
  and portfolio margin, after a warm-up call; "not available" until that module exists. Its JIT compile
  time is measured in a fresh process with an empty ``NUMBA_CACHE_DIR`` (first call) and again in another
  fresh process on the same folder (from the cache); both times include a 200-bar run at S = 1.
* ``reference``: ``simulator.engine.engine.simulate``; at S > 1 only on the first ``--ref-bars`` bars
  (it is slow), which the bars column says. The kernel runs those bars too: the early bars hold fewer
  positions (ADX warms up), so only rows with the same bars compare.
* ``vectorbt``: ``Portfolio.from_orders`` with ``size_type="targetpercent"`` on S groups of two columns
  (BTC and ETH perpetuals, cash shared in each group), target percents from the books' own ADX lines
  (side x conviction x fraction / 2, no hysteresis or stops), filled at the next open, then ``value()``.

The pmsim books are ``bench_engine.adx_book`` (ADX on the two perpetuals) with a rebalance band and a MUR
cap; the market also lists the quarterlies, so portfolio margin prices N > 2 instruments. Throughput is
bar-configs/s (bars x S / seconds); "x vbt" is that over vectorbt's at the same S. Memory is measured
with ``resource``-style OS counters, not tracemalloc (which misses numba's allocations): "peak MB" is the
process's resident-set high-water mark during the section (Linux ``VmHWM``, reset before each section
through ``/proc/self/clear_refs`` after freed memory is handed back with glibc's ``malloc_trim``), and
"+MB" that peak minus what was resident when the section started.

Measured 2026-11-26 on the shared 2-core machine (load 2-4), 2,000 bars x 6 instruments, before the
kernel existed: vectorbt 62k / 753k / 638k bar-configs/s at S = 1 / 1024 / 4096 (+1.8 GB at 4096);
reference cross 1,846 bars/s at S = 1, 131k / 109k bar-configs/s at S = 1024 / 4096 (250 bars, +0.4 GB);
reference portfolio 489 bars/s, 78k / 85k bar-configs/s: 0.01x vectorbt at S = 1, 0.10-0.17x in batches.
With main's kernel merged in a scratch tree (load 2-4): kernel cross 18k bars/s at S = 1, 219k / 198k
bar-configs/s at S = 1024 / 4096 (0.33 / 0.32 / 0.28x vectorbt, +4.3 GB at 4096: the recorded series);
portfolio 27k bars/s, 155k / 137k; JIT first call 107 s (cross compiles what portfolio then reuses),
0.6 s from the cache. With the kernel's calls made cheap (no NRT reference counts, inlined steps), --quick
(500 bars, load 2): kernel cross 16.8k bars/s at S = 1 and 262k bar-configs/s at S = 256 (reference 146k
on 120 bars), portfolio 19.3k and 413k (reference 90k); ADX's own prepare (ta, pandas) is a third of a run.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import ctypes  # noqa: E402
import dataclasses  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from bench_engine import adx_book  # noqa: E402
from pmsim.simulator.allocator import Allocator, MurCap, RebalanceBand  # noqa: E402
from pmsim.simulator.engine.engine import simulate  # noqa: E402
from pmsim.simulator.kernel.errors import NotCompiled  # noqa: E402
from pmsim.simulator.margin import make_regime  # noqa: E402
from pmsim.simulator.market.arrays import PRICE_FIELDS, Market  # noqa: E402
from pmsim.simulator.market.synthetic import generate_market  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WINDOWS = (12, 24, 48)  # short enough for the reference's shorter market (ADX needs 2 x window bars)
REGIMES = ("cross", "portfolio")
WALLET = 100_000.0
TRADED = ("BTCUSDT", "ETHUSDT")
PROBE_BARS = 200


def compiled_engine() -> Callable | None:
    """``simulate_compiled`` when the kernel package has it, else None."""
    try:
        from pmsim.simulator.kernel.run import simulate_compiled
    except ImportError:
        return None
    return simulate_compiled


def head(market: Market, bars: int) -> Market:
    """The first ``bars`` bars of ``market`` (dated futures expiring later keep no settlement)."""
    per_bar = ("times", *PRICE_FIELDS, "funding_rate", "funding_due", "listed", "gap")
    inside = market.expiry_bar < bars
    return dataclasses.replace(
        market,
        **{name: getattr(market, name)[:bars] for name in per_bar},
        expiry_bar=np.where(inside, market.expiry_bar, -1),
        settlement=np.where(inside, market.settlement, np.nan),
    )


def reset_peak() -> bool:
    """Hand freed memory back (glibc) and reset the resident-set high-water mark (Linux).

    False where the mark cannot be reset. Without the trim, memory an earlier section freed stays
    resident and would count as this section's.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def resident_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of this process in MB (NaN off Linux)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return float("nan")
    line = next(x for x in status.splitlines() if x.startswith(field))
    return int(line.split()[1]) / 1024


def run_pmsim(engine: Callable, market: Market, regime: str, n_configs: int) -> None:
    engine(
        market,
        make_regime(regime, market.instruments),
        adx_book(n_configs, np.random.default_rng(0), WINDOWS),
        Allocator((RebalanceBand(0.1), MurCap(0.7))),
        WALLET,
    )


def target_percents(market: Market, n_configs: int) -> np.ndarray:
    """``[T, S * 2]`` target percent of group value per perpetual, decided at each close from ADX."""
    book = adx_book(n_configs, np.random.default_rng(0), WINDOWS)
    book.prepare(market)
    adx = book.adx_[book.window_index_]  # [S, T, 2]
    side = np.sign(book.plus_di_[book.window_index_] - book.minus_di_[book.window_index_])
    size = np.moveaxis(book.conviction(adx.reshape(n_configs, -1)).reshape(adx.shape), 0, 1)
    on = np.moveaxis(adx > book.entry_[:, None, None], 0, 1)
    percent = np.where(on, np.moveaxis(side, 0, 1) * size, 0.0) * book.fraction_[None, :, None] / 2
    return percent.reshape(market.n_bars, n_configs * len(TRADED))


def run_vectorbt(market: Market, percents: np.ndarray) -> None:
    import vectorbt as vbt  # imported here: importing it raises Python's recursion limit

    columns = [market.column(s) for s in TRADED]
    n_groups = percents.shape[1] // len(TRADED)
    index = pd.DatetimeIndex(market.times)

    def tiled(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(np.tile(values[:, columns], n_groups), index=index)

    size = np.vstack([np.full((1, percents.shape[1]), np.nan), percents[:-1]])  # next open
    portfolio = vbt.Portfolio.from_orders(
        close=tiled(market.close),
        price=tiled(market.open),
        size=pd.DataFrame(size, index=index),
        size_type="targetpercent",
        direction="both",
        fees=market.instruments[columns[0]].taker_fee,
        slippage=0.0001,
        init_cash=WALLET,
        group_by=np.repeat(np.arange(n_groups), len(TRADED)),
        cash_sharing=True,
        call_seq="auto",
        freq="1h",
    )
    portfolio.value()


def timed(call: Callable[[], None]) -> tuple[float, float, float]:
    """(seconds, peak resident MB, peak minus resident at the start) of one call."""
    reset_peak()
    before = resident_mb("VmRSS")
    start = time.perf_counter()
    call()
    seconds, peak = time.perf_counter() - start, resident_mb("VmHWM")
    return seconds, peak, peak - before


def jit_probe() -> None:
    """In a fresh process: seconds of the kernel's first call per regime (compile or cache load + run)."""
    engine = compiled_engine()
    assert engine is not None
    market = generate_market(seed=7, bars=PROBE_BARS)
    out = {}
    for regime in REGIMES:
        start = time.perf_counter()
        run_pmsim(engine, market, regime, 1)
        out[regime] = time.perf_counter() - start
    print("PROBE", json.dumps(out))


def jit_times() -> list[str]:
    """The kernel's first call in a fresh process, with an empty numba cache and then from it."""
    lines = []
    with tempfile.TemporaryDirectory() as cache:
        env = os.environ | {"NUMBA_CACHE_DIR": cache, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
        for label in ("first call (compile)", "from the cache"):
            done = subprocess.run(
                [sys.executable, __file__, "--jit-probe"], env=env, capture_output=True, text=True
            )
            probe = next((x for x in done.stdout.splitlines() if x.startswith("PROBE")), None)
            if probe is None:
                lines.append(f"kernel JIT {label}: failed ({done.stderr.strip().splitlines()[-1:]})")
                continue
            seconds = json.loads(probe.split(" ", 1)[1])
            lines.append(
                f"kernel JIT {label:20s}: "
                + "   ".join(f"{r} {s:6.2f} s" for r, s in seconds.items())
                + f"   ({PROBE_BARS} bars, S = 1, included)"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=2000)
    parser.add_argument("--configs", type=int, nargs="+", default=[1, 1024, 4096])
    parser.add_argument("--ref-bars", type=int, default=250, help="bars of the reference engine at S > 1")
    parser.add_argument(
        "--quick", action="store_true", help="500 bars, S = 1 and 256, reference on 120, no JIT timing"
    )
    parser.add_argument("--jit-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jit_probe:
        jit_probe()
        return
    if args.quick:
        args.bars, args.configs, args.ref_bars = 500, [1, 256], 120
    market = generate_market(seed=7, bars=args.bars)
    short = head(market, min(args.ref_bars, args.bars))
    engine = compiled_engine()
    print(f"market: {market.n_bars} hourly bars x {len(market.instruments)} instruments ({market.source})")
    if not reset_peak():
        print("peak memory: VmHWM could not be reset; each figure is the process peak so far")
    print("load average (1, 5, 15 min) at the start: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    print(f"resident at start: {resident_mb('VmRSS'):,.0f} MB (numpy, pandas, pmsim imported; market built)")
    rows: list[tuple[str, str, int, int, float, float, float]] = []
    vbt_rate: dict[int, float] = {}
    for n_configs in args.configs:
        percents = target_percents(market, n_configs)
        run_vectorbt(head(market, 50), percents[:50])  # numba compiles (or loads) for these array layouts
        seconds, *memory = timed(functools.partial(run_vectorbt, market, percents))
        vbt_rate[n_configs] = market.n_bars * n_configs / seconds
        rows.append(("vectorbt", "-", n_configs, market.n_bars, seconds, *memory))
    notes = []
    for regime in REGIMES:
        for n_configs in args.configs:
            bars = market if n_configs == 1 else short
            if engine is not None:
                try:
                    run_pmsim(engine, short, regime, 1)  # compile or load from the cache before timing
                    for on in (market, bars) if bars is short else (market,):  # also the reference's work
                        seconds, *memory = timed(functools.partial(run_pmsim, engine, on, regime, n_configs))
                        rows.append(("kernel", regime, n_configs, on.n_bars, seconds, *memory))
                except NotCompiled as exc:
                    notes.append(f"kernel {regime} S={n_configs}: not compiled ({exc})")
            seconds, *memory = timed(functools.partial(run_pmsim, simulate, bars, regime, n_configs))
            rows.append(("reference", regime, n_configs, bars.n_bars, seconds, *memory))
    print(
        f"{'engine':10s}{'regime':>10s}{'S':>6s}{'bars':>7s}{'seconds':>9s}{'bar-configs/s':>15s}"
        f"{'x vbt':>8s}{'peak MB':>9s}{'+MB':>8s}"
    )
    for name, regime, n_configs, bars, seconds, peak, added in rows:
        rate = bars * n_configs / seconds
        print(
            f"{name:10s}{regime:>10s}{n_configs:6d}{bars:7d}{seconds:9.2f}{rate:15,.0f}"
            f"{rate / vbt_rate[n_configs]:8.2f}{peak:9,.0f}{added:8,.0f}"
        )
    if engine is None:
        notes.append("kernel: not available (pmsim.simulator.kernel.run.simulate_compiled is not importable)")
    elif args.quick:
        notes.append("kernel JIT: not timed with --quick (a cold compile takes minutes)")
    else:
        notes += jit_times()
    print(*notes, sep="\n")
    print("load average (1, 5, 15 min) at the end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
