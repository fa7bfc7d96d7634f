"""Size and load time of the many-book report: 3,000 synthetic sweep rows, and a 60-book run folder.

Run from the worktree root: ``python bench/bench_report.py [--points 3000] [--out /tmp/bench_report]``.
Load time is measured twice in headless Chromium: the page's own ``data-ready-ms`` (navigation start to
the end of the report's script, every chart drawn) and the wall time of the whole browser process.
Never run in the tests (timings belong here).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pmsim.reports.sweep import sweep_page  # noqa: E402

from pmsim import reports  # noqa: E402
from tests.reports.grid import grid_run  # noqa: E402


def sweep_rows(points: int, rng: np.random.Generator) -> tuple[pd.DataFrame, list[str]]:
    """``points`` rows over four axes with plausible metrics (about 5 % ruined)."""
    axes = {"window": [12, 24, 48, 96, 168], "entry": [15, 18, 20, 22, 25, 28, 30, 35, 40, 45]}
    axes |= {"fraction": [0.1, 0.25, 0.5, 0.75, 1.0], "leverage": [1, 2, 3, 5, 8, 10, 15, 20, 25, 30, 40, 50]}
    grid = pd.MultiIndex.from_product(list(axes.values()), names=list(axes)).to_frame(index=False)
    rows = grid.sample(points, random_state=1, replace=points > len(grid)).reset_index(drop=True)
    risk = rows["fraction"] * rows["leverage"] / 50
    rows["roe"] = rng.normal(0.05, 0.3, points) * (1 + risk)
    rows["ruined"] = rng.random(points) < 0.05 * (1 + 3 * risk)
    rows.loc[rows["ruined"], "roe"] = -1.0
    rows["rom"] = rows["roe"] / np.maximum(risk, 0.02)
    rows["rom_annualised"] = rows["rom"] * 2
    rows["max_mur"] = np.minimum(risk * rng.uniform(0.5, 2.0, points), 3.0)
    rows["min_buffer"] = 1 / np.maximum(rows["max_mur"], 0.01) * 2
    rows["liquidations"] = rng.poisson(risk * 2)
    rows["net_pnl"] = rows["roe"] * 100_000
    rows["final_equity"] = 100_000 + rows["net_pnl"]
    rows["in_market"] = rng.uniform(0.1, 0.9, points)
    rows["cuts"] = rng.poisson(20, points)
    return rows, list(axes)


def top_series(rows: pd.DataFrame, bars: int, rng: np.random.Generator) -> dict:
    time_ = pd.date_range("2024-01-01", periods=bars, freq="1h", tz="UTC")
    out = {}
    for key in rows.sort_values("roe", ascending=False).index[:10]:
        equity = 100_000 * np.exp(np.cumsum(rng.normal(0, 0.003, bars)))
        im = 30_000 * rng.uniform(0.5, 1.0, bars)
        out[key] = pd.DataFrame(
            {"time": time_, "equity": equity, "im": im, "mm": im / 2, "deposits": 100_000.0}
        )
    return out


def load(page: Path, profile: Path) -> tuple[float, int | None]:
    """Wall seconds of a headless Chromium that loads ``page`` and dumps its DOM, and the page's ready ms."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    command += [f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()]
    start = time.perf_counter()
    dom = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True).stdout
    wall = time.perf_counter() - start
    ready = re.search(r'data-ready-ms="(\d+)"', dom)
    return wall, int(ready.group(1)) if ready else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=3000)
    parser.add_argument("--bars", type=int, default=8760, help="bars of each kept top-k series")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_report"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    rng = np.random.default_rng(3)

    rows, axes = sweep_rows(args.points, rng)
    start = time.perf_counter()
    page = sweep_page(rows, axes, args.out / "sweep.html", top_series=top_series(rows, args.bars, rng))
    built = time.perf_counter() - start
    wall, ready = load(page, args.out / "profile-a")
    print(
        f"sweep {args.points} points: {page.stat().st_size / 1e6:.2f} MB, built in {built:.1f} s, "
        f"Chromium ready {ready} ms, process wall {wall:.1f} s"
    )

    windows, entries = (
        (12, 24, 48, 96, 168, 336),
        (15.0, 18.0, 20.0, 22.0, 25.0, 28.0, 30.0, 35.0, 40.0, 45.0),
    )
    run = grid_run(args.out / "grid60", windows, entries, bars=4380)
    start = time.perf_counter()
    page = reports.build_report([run], args.out / "grid60.html")
    built = time.perf_counter() - start
    wall, ready = load(page, args.out / "profile-b")
    print(
        f"run folder 60 books x 4380 bars: {page.stat().st_size / 1e6:.2f} MB, built in {built:.1f} s, "
        f"Chromium ready {ready} ms, process wall {wall:.1f} s"
    )


if __name__ == "__main__":
    main()
