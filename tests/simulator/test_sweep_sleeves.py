"""``pmsim sweep`` over a ``[[sleeves]]`` book (issue 10 item 4): the seed book's sizing rules.

Axes name sleeves (``sleeves.trend.budget.stages``); points differing only in strategy params of any
sleeve, budget numbers and stage lists, or allocator numbers run in lockstep; each row equals the point
run alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from pmsim.simulator.build import build_market, build_run
from pmsim.simulator.config import RunConfig
from pmsim.simulator.metrics import METRICS, summarise
from pmsim.simulator.sweep.batches import merged, pack
from pmsim.simulator.sweep.grid import expand
from pmsim.simulator.sweep.plan import plan, sweep
from pmsim.simulator.sweep.store import RESULTS

from tests.reliability.harness import REPO

EXAMPLES = REPO / "examples"
SLEEVES = [
    {"name": "core", "strategy": "adx", "params": {"window": 24}},
    {
        "name": "trend",
        "strategy": "adx",
        "params": {"window": 24},
        "budget": {"kind": "free_capital", "after": ["core"], "stages": [0.25, 0.5, 1.0]},
    },
]


@pytest.fixture
def seed_grid(tmp_path: Path) -> Path:
    """The example grid over the seed book on 2024-03-01 .. 2024-04-15 of real history (a quarterly roll)."""
    data = os.environ.get("PMSIM_DATA_DIR")
    if not data or not Path(data).is_dir():
        pytest.skip("real history needs PMSIM_DATA_DIR (e.g. /work/shared/data)")
    book = (EXAMPLES / "seed_book.toml").read_text()
    book, found = re.subn(
        r'start = "2023-07-01"\nend = "2025-03-10"[^\n]*',
        'start = "2024-03-01"\nend = "2024-04-15"',  # the history comes from --data (plan's data=)
        book,
    )
    assert found == 1
    (tmp_path / "seed_book.toml").write_text(book)
    path = tmp_path / "sweep_seed_book.toml"
    path.write_text((EXAMPLES / "sweep_seed_book.toml").read_text())
    return path


def test_seed_book_grid_runs_in_one_batch_and_rows_equal_separate_runs(seed_grid, tmp_path):
    planned = plan(seed_grid, top=3, by="roe", data=Path(os.environ["PMSIM_DATA_DIR"]))
    assert {p.config["market"]["data"] for p in planned.grid.points} == {os.environ["PMSIM_DATA_DIR"]}
    assert len(planned.grid.points) == 3 * 3 * 2 * 2
    assert len(planned.batches) == 1  # stages, MUR cap, buffer floor, core leverage: all lists over S
    out = tmp_path / "out"
    sweep(planned, out, None, 1, False)
    got = pd.read_parquet(out / RESULTS).set_index("point")
    assert len(got) == 36 and got.index.is_unique
    assert set(got["sleeves.trend.budget.stages"]) == {"[0.25, 0.5, 1.0]", "[0.5, 1.0]", "[1.0]"}
    assert set(got["sleeves.core.params.leverage"]) == {1.0, 2.0}
    config = RunConfig.from_dict(planned.grid.points[0].config)
    market = build_market(config.market)
    for point in (planned.grid.points[0], planned.grid.points[17], planned.grid.points[35]):
        run = build_run(RunConfig.from_dict(point.config), market)  # one book alone: the reference
        simulation = run.execute()
        alone = summarise(simulation.series, simulation.events, market.bar_seconds)[0]
        for metric in METRICS:
            row = got.loc[point.id, metric]
            assert row == alone[metric] or (pd.isna(row) and pd.isna(alone[metric])), (point.id, metric)
    assert got["roe"].nunique() > 1  # the sizing rules change the outcome on this window


def test_sleeve_axes_pack_into_lockstep_batches():
    base = {"market": {"bars": 48}, "sleeves": SLEEVES}
    axes = {
        "sleeves.trend.params.entry": [20.0, 25.0],  # a strategy param of one sleeve: lockstep
        "sleeves.trend.budget.stages": [[0.25, 1.0], [1.0]],  # a stage list per book: lockstep
        "sleeves.core.budget.fraction": [0.5, 1.0],  # a budget number: lockstep
        "allocator.mur_cap": [False, 0.7],  # a rule off in some points: another batch
        "regime.name": ["cross", "portfolio"],  # another regime: another batch
    }
    grid = expand({"base": base, "axes": axes}, Path("."), "g")
    batches = pack(grid.points)
    assert sorted(len(b.points) for b in batches) == [8, 8, 8, 8]
    for batch in batches:
        points = batch.points
        assert len({(p.values["allocator.mur_cap"], p.values["regime.name"]) for p in points}) == 1
        config = merged([p.config for p in points])
        core, trend = config["sleeves"]
        assert trend["budget"]["stages"] == [p.values["sleeves.trend.budget.stages"] for p in points]
        assert trend["params"]["entry"] == [p.values["sleeves.trend.params.entry"] for p in points]
        assert core["budget"]["fraction"] == [p.values["sleeves.core.budget.fraction"] for p in points]
        assert core["params"]["window"] == [24] * 8 and trend["budget"]["after"] == ["core"]
        assert build_run(RunConfig.from_dict(config)).sleeves.n_configs == 8


def test_a_sleeve_without_numeric_params_runs_each_point_alone():
    """S books need a list in every strategy: a sleeve with no numeric parameter cannot take one."""
    sleeves = [{**SLEEVES[0], "params": {}}, SLEEVES[1]]
    grid = expand(
        {
            "base": {"market": {"bars": 48}, "sleeves": sleeves},
            "axes": {"allocator.mur_cap": [0.5, 0.7, 0.8]},
        },
        Path("."),
        "g",
    )
    batches = pack(grid.points)
    assert [len(b.points) for b in batches] == [1, 1, 1]
    for batch in batches:
        assert build_run(RunConfig.from_dict(merged([p.config for p in batch.points]))).sleeves.n_configs == 1
