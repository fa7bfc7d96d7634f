"""``pmsim sweep`` (issue 10): lockstep batches equal separate runs, resume after SIGKILL, Dask clusters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from pmsim.simulator.build import build_run
from pmsim.simulator.config import RunConfig
from pmsim.simulator.metrics import METRICS, summarise
from pmsim.simulator.sweep.batches import merged, pack
from pmsim.simulator.sweep.grid import expand
from pmsim.simulator.sweep.plan import KILL_AT, plan, sweep
from pmsim.simulator.sweep.store import MARKER, RESULTS

from tests.reliability.harness import REPO, pmsim_command, pmsim_env

EXAMPLE = REPO / "examples" / "sweep_adx.toml"


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    """The example grid on a short window (300 bars): 24 points in 2 batches (one per regime)."""
    path = tmp_path / "grid.toml"
    path.write_text(EXAMPLE.read_text().replace("bars = 2190", "bars = 300"))
    return path


def rows(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / RESULTS)
    return frame.drop(columns="batch").sort_values("point").reset_index(drop=True)


def test_example_grid_rows_equal_separate_runs(grid, tmp_path):
    planned = plan(grid, top=5, by="roe")
    assert len(planned.grid.points) == 3 * 2 * 2 * 2
    assert len(planned.batches) == 2  # cross and portfolio: the rest runs in lockstep
    out = tmp_path / "out"
    sweep(planned, out, None, 1, False)
    got = rows(out)
    assert len(got) == 24 and got["point"].is_unique
    combos = set(
        zip(
            got["strategy.params.window"],
            got["strategy.params.entry"],
            got["allocator.mur_cap"],
            got["regime.name"],
            strict=True,
        )
    )
    assert len(combos) == 24
    for point in (planned.grid.points[0], planned.grid.points[7], planned.grid.points[23]):
        run = build_run(RunConfig.from_dict(point.config))  # one book alone: the independent reference
        simulation = run.execute()
        alone = summarise(simulation.series, simulation.events, run.market.bar_seconds)[0]
        row = got.set_index("point").loc[point.id]
        for metric in METRICS:
            assert row[metric] == alone[metric] or (pd.isna(row[metric]) and pd.isna(alone[metric])), metric
    marker = json.loads((out / MARKER).read_text())
    assert marker["complete"] and marker["points"] == 24
    best = got.sort_values(["roe", "point"], ascending=[False, True])["point"].head(5).tolist()
    assert marker["top_points"] == best + (["p00"] if "p00" not in best else [])
    top = pd.read_parquet(out / "top.parquet")
    assert list(dict.fromkeys(top["point"])) == marker["top_points"]
    assert (top.groupby("point").size() == 300).all()
    page = (out / "report.html").read_text(encoding="utf-8")  # the many-book page of the rows
    assert 'name="generator" content="pmsim' in page and "24 of 24 books" not in page
    assert "24 points over strategy.params.window" in page and "per point (regime.name)" in page


def test_packing_splits_only_what_cannot_run_in_lockstep():
    base = {"market": {"bars": 48}, "strategy": {"name": "adx", "params": {"window": 24}}}
    axes = {
        "strategy.params.entry": [20.0, 25.0],
        "allocator.buffer_floor": [1.2, 1.5],  # a threshold that takes an array over S: lockstep
        "allocator.stop_drawdown": [0.2, 0.3],  # so does the drawdown stop (a list over S since issue 9)
        "allocator.rebalance_band": [False, 0.05],  # a rule off in some points: another batch
        "account.wallet": [1e5, 2e5],  # another account: another batch
    }
    grid = expand({"base": base, "axes": axes}, Path("."), "g")
    batches = pack(grid.points)
    assert sorted(len(b.points) for b in batches) == [8, 8, 8, 8]
    for batch in batches:
        split = {
            (p.config["allocator"]["rebalance_band"], p.config["account"]["wallet"]) for p in batch.points
        }
        assert len(split) == 1
        config = merged([p.config for p in batch.points])
        assert config["allocator"]["stop_drawdown"] == [
            p.values["allocator.stop_drawdown"] for p in batch.points
        ]
        assert config["strategy"]["params"]["window"] == [24] * 8  # every strategy param: S books


def _sweep_cli(grid: Path, out: Path, *flags: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = pmsim_command("sweep", str(grid), "--out", str(out), *flags)
    return subprocess.run(command, env={**pmsim_env(), **env}, capture_output=True, text=True, timeout=600)


def test_resume_after_sigkill_between_batches_gives_the_same_rows(grid, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert _sweep_cli(grid, whole).returncode == 0
    first = _sweep_cli(grid, killed, PMSIM_TEST_SIGNAL_AT=KILL_AT)
    assert first.returncode == -signal.SIGKILL
    assert len(os.listdir(killed / RESULTS)) == 1  # one batch committed, the other never started
    assert not json.loads((killed / MARKER).read_text())["complete"]
    resumed = _sweep_cli(grid, killed)  # same grid, no --force: resumes
    assert resumed.returncode == 0, resumed.stderr
    pd.testing.assert_frame_equal(rows(killed), rows(whole))
    assert sorted(os.listdir(killed / RESULTS)) == sorted(os.listdir(whole / RESULTS))
    again = _sweep_cli(grid, whole)
    assert again.returncode == 2 and "pass --force" in again.stderr
    assert _sweep_cli(grid, whole, "--force").returncode == 0  # the same grid twice: identical rows
    pd.testing.assert_frame_equal(rows(whole), rows(killed))


def test_local_cluster_of_two_workers_equals_the_local_scheduler(grid, tmp_path):
    from distributed import LocalCluster

    planned = plan(grid, top=3, by="rom")
    sweep(planned, tmp_path / "local", None, 1, False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        sweep(planned, tmp_path / "cluster", cluster.scheduler_address, 1, False)
    pd.testing.assert_frame_equal(rows(tmp_path / "cluster"), rows(tmp_path / "local"))
    top = [pd.read_parquet(tmp_path / name / "top.parquet") for name in ("local", "cluster")]
    pd.testing.assert_frame_equal(top[0], top[1])
