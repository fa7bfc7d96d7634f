"""What the safe writes cost: writing the demo's two run folders, with and without fsync and the lock.

Run: ``python bench/bench_writes.py [--bars N] [--repeat R] [--out DIR]``. The books are simulated once;
then each run folder is written R times over itself (``force``), with the full protocol and with fsync
and the lock switched off (the writes as they were before). ``--out`` picks the filesystem measured.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from pmsim.simulator import atomic
from pmsim.simulator.build import build_market, build_run
from pmsim.simulator.config import MarketConfig
from pmsim.simulator.demo import demo_configs


def timed_writes(runs, sims, out: Path, repeat: int) -> list[float]:  # noqa: ANN001
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for run, sim in zip(runs, sims, strict=True):
            run.write(sim, out / run.config.name, force=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=8760)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="folder to write in (default: a temp dir)")
    args = parser.parse_args()
    market_config = MarketConfig(bars=args.bars)
    market = build_market(market_config)
    runs = [build_run(config, market) for config in demo_configs(market, market_config)]
    sims = [run.execute() for run in runs]
    with tempfile.TemporaryDirectory(dir=args.out) as root:
        out = Path(root)
        timed_writes(runs, sims, out, 1)  # warm up, and create the folders
        safe = timed_writes(runs, sims, out, args.repeat)
        atomic_fsync, atomic_locked = atomic._fsync, atomic._locked
        atomic._fsync = lambda path: None
        atomic._locked = lambda target: contextlib.nullcontext()
        try:
            plain = timed_writes(runs, sims, out, args.repeat)
        finally:
            atomic._fsync, atomic._locked = atomic_fsync, atomic_locked
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    safe_ms, plain_ms = 1000 * statistics.median(safe), 1000 * statistics.median(plain)
    print(f"demo run folders ({args.bars} bars, {size / 1e6:.1f} MB) written in {root}")
    print(f"  safe (lock + fsync + exchange): median {safe_ms:7.1f} ms over {args.repeat}")
    print(f"  plain (no lock, no fsync):      median {plain_ms:7.1f} ms over {args.repeat}")
    print(f"  overhead: {safe_ms - plain_ms:+.1f} ms ({100 * (safe_ms / plain_ms - 1):+.0f}%)")


if __name__ == "__main__":
    main()
