"""Every example config runs through `pmsim run`, and the README's commands are real commands."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from pmsim.simulator.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
# real history only (tests/simulator/test_seed_examples.py); sweep_*.toml are grids for `pmsim sweep`
# (run end to end in tests/simulator/test_sweep.py and test_sweep_sleeves.py), not configs
HISTORY = ("seed_book", "seed_book_cross", "pair_hedge")
EXAMPLES = sorted(
    p for p in (REPO / "examples").glob("*.toml") if p.stem not in HISTORY and not p.stem.startswith("sweep_")
)


@pytest.mark.parametrize("config", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_config_runs(config, tmp_path):
    out = tmp_path / config.stem
    assert main(["run", str(config), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["configs"] and summary["market"]["source"].startswith("synthetic")


def test_basis_book_needs_less_margin_under_portfolio_margin(tmp_path):
    """The reason PM exists: a perp/quarterly hedge is margined on its net risk, not leg by leg."""
    runs = {}
    for name in ("basis_portfolio", "basis_cross"):
        assert main(["run", str(REPO / "examples" / f"{name}.toml"), "--out", str(tmp_path / name)]) == 0
        runs[name] = pd.read_parquet(tmp_path / name / "series.parquet").groupby("config").im.mean()
    assert (runs["basis_portfolio"] < runs["basis_cross"] / 2).all()


def test_readme_commands_parse():
    """Each `pmsim ...` line in the README's command table names a real command."""
    readme = (REPO / "README.md").read_text()
    commands = set(re.findall(r"`pmsim (\w+)", readme))
    assert {"demo", "run", "report", "margin", "stress", "data"} <= commands
    parser = build_parser()
    for command in commands:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([command, "--help"])
        assert exit_info.value.code == 0
