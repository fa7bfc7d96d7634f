"""``pmsim sweep`` at scale: an ADX grid of N points over a synthetic market of B hourly bars.

Run: ``python bench/bench_sweep.py [--points 1000] [--bars 8760] [--mode local|processes|cluster]``
(all three modes when none is given). Each mode runs ``pmsim sweep`` in a fresh process and reports wall
time, peak memory (resident set of the sweep and its worker processes, from ``getrusage``), rows and
the folder's size. ``local`` is Dask's sync scheduler (one worker), ``processes`` the local process
pool of 2, ``cluster`` a 2-worker ``dask.distributed.LocalCluster`` (processes) given by address.

Measured 2026-11-26 on the shared 2-core machine (load average 5-7 from other jobs, so times are loose):
1,000 points x 8,760 bars, 20 batches of 50: local 594 s, peak 0.93 GB; LocalCluster(2) 418 s, client
0.28 GB + largest worker 0.68 GB; 1,000 rows, folder 6.1 MB. 200 points (load ~2): local 59 s,
process pool of 2 59 s (the other helpers' jobs held the second core).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AXES = {  # 10 x 10 x 5 x 2 = 1000 points; numeric params and thresholds: lockstep batches of 50
    "strategy.params.window": [12, 24, 36, 48, 72, 96, 120, 168, 240, 336],
    "strategy.params.entry": [16.0, 18.0, 20.0, 22.0, 24.0, 26.0, 28.0, 30.0, 32.0, 35.0],
    "allocator.mur_cap": [0.3, 0.4, 0.5, 0.6, 0.7],
    "allocator.buffer_floor": [1.2, 1.5],
}


def grid_text(points: int, bars: int) -> str:
    """The first ``points`` of the 1,000-point grid, as explicit [[points]]."""
    combos = itertools.islice(itertools.product(*AXES.values()), points)
    lines = [
        "name = 'bench-adx'",
        "[base.market]",
        f"bars = {bars}",
        "[base.strategy]",
        "name = 'adx'",
        "params = { exit = 15.0, full_at = 40.0, fraction = 0.5, leverage = 3.0, stop_loss = 0.05 }",
        "[base.allocator]",
        "rebalance_band = 0.1",
    ]
    for combo in combos:
        lines.append("[[points]]")
        lines += [f'"{axis}" = {value}' for axis, value in zip(AXES, combo, strict=True)]
    return "\n".join(lines) + "\n"


def run_mode(mode: str, grid: Path, out: Path) -> dict:
    flags = {"local": ["--workers", "1"], "processes": ["--workers", "2"]}.get(mode, [])
    code = f"""
import resource, subprocess, sys, time
flags = {flags!r}
if {mode == "cluster"!r}:
    from distributed import LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    flags = ["--scheduler", cluster.scheduler_address]
start = time.perf_counter()
from pmsim.simulator.cli import main
code = main(["sweep", {str(grid)!r}, "--out", {str(out)!r}, *flags])
wall = time.perf_counter() - start
if {mode == "cluster"!r}:
    cluster.close()
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("RESULT", code, wall, own, kids)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
    _, status, wall, own, kids = line.split()
    import pandas as pd

    rows = len(pd.read_parquet(out / "results"))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    marker = json.loads((out / ".pmsim-sweep.json").read_text())
    return {
        "mode": mode,
        "exit": int(status),
        "wall_s": round(float(wall), 1),
        "peak_rss_main_mb": round(int(own) / 1024),
        "peak_rss_largest_child_mb": round(int(kids) / 1024),
        "rows": rows,
        "batches": marker["batches"],
        "folder_mb": round(size / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--bars", type=int, default=8760)
    parser.add_argument("--mode", choices=("local", "processes", "cluster"), action="append")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        grid = Path(tmp) / "grid.toml"
        grid.write_text(grid_text(args.points, args.bars))
        for mode in args.mode or ["local", "processes", "cluster"]:
            start = time.perf_counter()
            result = run_mode(mode, grid, Path(tmp) / mode)
            result["points"], result["bars"] = args.points, args.bars
            print(json.dumps(result), f"({time.perf_counter() - start:.0f} s with start-up)", flush=True)


if __name__ == "__main__":
    main()
