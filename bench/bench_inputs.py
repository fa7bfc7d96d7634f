"""Measure input validation: its cost on `pmsim run` start-up, and how the bad-input table fares.

Usage: python bench/bench_inputs.py [CHECKOUT ...]

1. Start-up of ``pmsim run examples/*.toml`` up to the first simulated bar, split into imports,
   reading + checking the config (``RunConfig.from_toml`` and the window), and wiring (market, regime,
   strategy), each the median of fresh processes.
2. For each CHECKOUT (default: this one), every row of ``tests/reliability/test_inputs.py`` run
   through that checkout's CLI, classified as: one line + exit 2, a traceback, exit 0, or other.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PROBE = """
import json, sys, time
t0 = time.perf_counter()
from pmsim.simulator.build import build_run
from pmsim.simulator.config import RunConfig
from dataclasses import replace
t1 = time.perf_counter()
config = RunConfig.from_toml(sys.argv[1])
config = replace(config, market=config.market.overridden())
t2 = time.perf_counter()
reps = 200
for _ in range(reps):
    RunConfig.from_toml(sys.argv[1])
t3 = time.perf_counter()
build_run(config)
t4 = time.perf_counter()
times = {"import": t1 - t0, "validate": t2 - t1, "validate_warm": (t3 - t2) / reps, "wire": t4 - t3}
print(json.dumps(times))
"""


def startup(config: Path, runs: int = 5) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    rows = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", PROBE, str(config)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(runs)
    ]
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]}


def classify(checkout: Path) -> Counter[str]:
    from tests.reliability import harness
    from tests.reliability.test_inputs import CASES

    env = {**os.environ, "PYTHONPATH": str(checkout), "OPENBLAS_NUM_THREADS": "1"}
    kinds: Counter[str] = Counter()
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            harness.lay_out(case, root)
            argv = [a.replace("{dir}", tmp) for a in case.argv]
            done = subprocess.run(
                harness.pmsim_command(*argv), cwd=root, env=env, capture_output=True, text=True, timeout=600
            )
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        kind = (
            "traceback"
            if "Traceback" in done.stderr
            else "exit 0"
            if done.returncode == 0
            else "one line, exit 2"
            if done.returncode == 2 and len(lines) == 1
            else f"other (exit {done.returncode})"
        )
        kinds[kind] += 1
        if kind != "one line, exit 2":
            print(f"  {case.id}: {kind}", file=sys.stderr)
    return kinds


def main() -> None:
    for config in sorted((REPO / "examples").glob("*.toml")):
        t = startup(config)
        total = t["import"] + t["validate"] + t["wire"]
        print(
            f"{config.name}: imports {t['import'] * 1e3:.0f} ms, "
            f"read+check config {t['validate'] * 1e3:.2f} ms "
            f"(warm {t['validate_warm'] * 1e6:.0f} us), wiring {t['wire'] * 1e3:.0f} ms; "
            f"checking is {100 * t['validate'] / total:.2f} % of {total * 1e3:.0f} ms start-up"
        )
    for checkout in [Path(p) for p in sys.argv[1:]] or [REPO]:
        kinds = classify(checkout)
        print(f"{checkout}: {sum(kinds.values())} bad inputs: {dict(kinds)}")


if __name__ == "__main__":
    main()
