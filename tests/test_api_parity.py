"""One code path: the same config through ``pmsim run`` / ``compare`` / ``sweep`` and through the Python API
gives byte-identical folders (reports compared with plotly's random element ids masked).

Synthetic examples run on a copy with fewer bars; history examples on a two-week window of the staged
data (skipped without it); sweep grids on a copy with fewer bars.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pmsim.simulator.cli import main

import pmsim

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
DATA = os.environ.get("PMSIM_DATA_DIR")
HISTORY = ("seed_book", "seed_book_cross", "pair_hedge")
WINDOW = ("2024-03-01", "2024-03-14")
CONFIGS = sorted(p for p in EXAMPLES.glob("*.toml") if not p.stem.startswith("sweep_"))
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def shortened(path: Path, folder: Path, bars: int = 240) -> Path:
    """A copy of the example ``path`` with ``bars = {bars}`` (its one ``bars =`` line replaced)."""
    text, n = re.subn(r"(?m)^bars = \d+", f"bars = {bars}", path.read_text(encoding="utf-8"))
    assert n == 1, path
    copy = folder / path.name
    copy.write_text(text, encoding="utf-8")
    return copy


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path; in reports, plotly's element ids and ``folder``
    itself (pages name their run folders) are masked."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".html":
            data = UUID.sub(b"<id>", data.replace(str(folder).encode(), b"<out>"))
        out[str(path.relative_to(folder))] = data
    return out


def inputs(config: Path, tmp_path: Path) -> tuple[Path, list[str], dict[str, str]]:
    """(config file, extra CLI arguments, the same as API keywords) for an example."""
    if config.stem in HISTORY:
        if not DATA:
            pytest.skip("PMSIM_DATA_DIR is not set: no staged Binance history")
        return (
            config,
            ["--data", DATA, "--start", WINDOW[0], "--end", WINDOW[1]],
            {
                "data": DATA,
                "start": WINDOW[0],
                "end": WINDOW[1],
            },
        )
    return shortened(config, tmp_path), [], {}


@pytest.mark.parametrize("config", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_run_writes_the_same_folder_as_the_cli(config, tmp_path):
    path, argv, keywords = inputs(config, tmp_path)
    assert main(["run", str(path), "--out", str(tmp_path / "cli"), "--report", *argv]) == 0
    result = pmsim.run(path, out=tmp_path / "api", report=True, **keywords)
    assert result.path == tmp_path / "api"
    cli, api = files(tmp_path / "cli"), files(tmp_path / "api")
    assert set(cli) >= {"config.json", "series.parquet", "events.parquet", "summary.json", "report.html"}
    assert cli == api


def test_compare_writes_the_same_folder_as_the_cli(tmp_path):
    path = shortened(EXAMPLES / "compare_basis.toml", tmp_path)
    regimes = "isolated,cross,portfolio:deribit"
    assert main(["compare", str(path), "--regimes", regimes, "--out", str(tmp_path / "cli")]) == 0
    comparison = pmsim.compare(path, regimes.split(","), out=tmp_path / "api")
    assert files(tmp_path / "cli") == files(tmp_path / "api")
    assert list(comparison.runs) == ["isolated", "cross", "portfolio-deribit"]


def test_sweep_writes_the_same_folder_as_the_cli(tmp_path):
    grid = shortened(EXAMPLES / "sweep_adx.toml", tmp_path)
    assert main(["sweep", str(grid), "--top", "3", "--out", str(tmp_path / "cli")]) == 0
    result = pmsim.sweep(grid, top=3, out=tmp_path / "api")
    assert files(tmp_path / "cli") == files(tmp_path / "api")
    assert len(result.rows) == 24 and result.path == tmp_path / "api"
