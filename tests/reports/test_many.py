"""The many-book report: heatmap cells, ranking, the legend cap, axes from summary.json, the sweep page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pmsim.reports import many
from pmsim.reports.frames import RunView
from pmsim.reports.sweep import sweep_page
from pmsim.reports.text import plain
from pmsim.simulator.errors import RunError
from pmsim.simulator.results import read_run

from pmsim import reports
from tests.reports.grid import grid_run

WINDOWS, ENTRIES = (12, 24, 48, 96, 168, 336), (15.0, 18.0, 20.0, 22.0, 25.0, 28.0, 30.0, 35.0, 40.0, 45.0)


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    """60 books over window x entry (see ``conftest.grid_run``)."""
    return grid_run(tmp_path_factory.mktemp("grid") / "run", WINDOWS, ENTRIES)


@pytest.fixture(scope="module")
def grid_page(grid, tmp_path_factory) -> str:
    return reports.build_report([grid], tmp_path_factory.mktemp("page") / "grid.html").read_text("utf-8")


def test_heatmap_cells_are_the_mean_and_max_of_the_rows_they_hold():
    rows = pd.DataFrame(
        {
            "a": [1, 1, 1, 2, 2, 2, 1],
            "b": [10, 10, 20, 10, 20, 20, 20],
            "roe": [0.10, 0.30, -0.20, 0.05, 0.40, np.inf, 0.00],
        }
    )
    z, n = many.heatmap_cells(rows, "a", "b", "roe", "mean")
    # cell (b=10, a=1): rows 0, 1 -> (0.10 + 0.30) / 2 = 0.20
    # cell (b=20, a=1): rows 2, 6 -> (-0.20 + 0) / 2 = -0.10
    # (b=10, a=2): row 3 -> 0.05; (b=20, a=2): rows 4, 5 -> 0.40 (the infinite value is counted, not averaged)
    assert list(z.columns) == ["1", "2"] and list(z.index) == ["10", "20"]
    assert z.to_numpy() == pytest.approx(np.array([[0.20, 0.05], [-0.10, 0.40]]))
    assert n.to_numpy().tolist() == [[2, 1], [2, 2]]
    top, _ = many.heatmap_cells(rows, "a", "b", "roe", "max")
    assert top.to_numpy() == pytest.approx(np.array([[0.30, 0.05], [0.00, 0.40]]))
    # the other way round: y = a
    flipped, _ = many.heatmap_cells(rows, "b", "a", "roe", "mean")
    assert flipped.loc["1", "20"] == pytest.approx(-0.10)


def test_ruined_averages_to_the_share_of_books_ruined():
    rows = pd.DataFrame({"a": [1, 1, 1, 2], "b": [5, 5, 5, 5], "ruined": [True, False, False, True]})
    z, _ = many.heatmap_cells(rows, "a", "b", "ruined", "mean")
    assert z.loc["5", "1"] == pytest.approx(1 / 3) and z.loc["5", "2"] == 1.0


def test_an_axis_with_many_values_is_binned_into_equal_widths():
    levels = many.axis_levels(pd.Series(np.arange(100.0)))
    assert len(levels.categories) == many.BINS and levels.ordered
    assert levels.value_counts().sum() == 100


def test_the_heatmap_grids_on_the_page_match_heatmap_cells(grid, grid_page):
    data = json.loads(re.search(r'id="heatmap-data">(.*?)</script>', grid_page).group(1))
    res = many.results_of_runs([RunView(read_run(grid))])
    z, n = many.heatmap_cells(res.rows, "window", "entry", "roe", "mean")
    cell = data["grids"]["window|entry|roe|mean"]
    assert cell["x"] == [f"{w}" for w in WINDOWS] and cell["y"] == [f"{e:g}" for e in ENTRIES]
    assert np.array(cell["z"], dtype=float) == pytest.approx(z.to_numpy(), rel=1e-5)
    assert np.array(cell["n"]).sum() == 60 and (np.array(cell["n"]) == 1).all()


def test_rank_picks_the_best_books_by_the_stated_metric():
    rows = pd.DataFrame(
        {"roe": [0.1, np.nan, 0.5, -1.0, 0.5, 0.2], "max_mur": [0.9, 0.1, 0.3, np.inf, 0.2, 0.3]},
        index=list("abcdef"),
    )
    assert many.rank(rows, "roe", 3) == ["c", "e", "f"]  # ties keep row order; NaN last
    assert many.rank(rows, "max_mur", 3) == ["b", "e", "c"]  # lower is better
    assert len(many.rank(pd.DataFrame({"roe": np.arange(50.0)}), "roe", 99)) == many.TOP_K
    with pytest.raises(RunError, match="cannot rank by 'sharpe'"):
        many.rank(rows, "sharpe")


def test_top_paths_are_the_ten_best_books_by_roe(grid):
    run = RunView(read_run(grid))
    best = sorted(run.folder.summary["configs"], key=lambda c: -c["roe"])[:10]
    labels = [run.folder.labels[c["config"]] for c in best]
    views = many.top_views(many.results_of_runs([run]))
    assert [v.label for v in views] == labels and [v.run for v in views] == [f"#{i}" for i in range(1, 11)]
    first = run.folder.series[run.folder.series["config"] == best[0]["config"]]
    assert views[0].bars.series["equity"].to_numpy() == pytest.approx(first["equity"].to_numpy())


def _legends(page: str) -> list[int]:
    """Legend entries of every plotly figure on the page as drawn (visible traces not hidden from it)."""
    counts = []
    for match in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', page):
        data, _ = json.JSONDecoder().raw_decode(page, match.end())
        shown = [t for t in data if t.get("showlegend", True) and t.get("visible", True) is not False]
        counts.append(len(shown))
    return counts


def test_no_legend_holds_more_than_twelve_entries(grid_page):
    legends = _legends(grid_page)
    assert len(legends) == 3  # frontier, top equity, top MUR (the heatmap is drawn by the page's script)
    assert max(legends) <= many.LEGEND_CAP
    assert legends == [2, 10, 10]


def test_many_books_get_the_many_book_sections_not_a_line_per_book(grid_page):
    headings = re.findall(r"<h2>(.*?)</h2>", grid_page)
    assert headings == [
        "What ran",
        "Results",
        "Frontier: ROE against margin used",
        "Heatmaps",
        "Top 10 books by ROE: equity and MUR",
        "Definitions",
    ]
    assert grid_page.count('class="plotly-graph-div"') == 4


def test_the_results_table_holds_every_book_with_its_axes(grid_page):
    data = json.loads(re.search(r'id="results-data">(.*?)</script>', grid_page).group(1))
    keys = [c["key"] for c in data["columns"]]
    assert keys[:3] == ["book", "window", "entry"] and "fraction" not in keys  # fraction never varies
    assert len(data["rows"]) == 60
    row = data["rows"][keys.index("book") and 0]
    assert row[:3] == [
        b"adx w=12 \\u003cb\\u003ein=15\\u003c/b\\u003e".decode("unicode_escape"),
        12,
        15.0,
    ]
    assert "<b>" not in grid_page.split('id="results-data">')[1].split("</script>")[0]


def test_axes_are_the_parameters_that_vary_across_books():
    summary = {
        "strategy": {"name": "adx", "window": [1, 2, 1], "fraction": [0.5, 0.5, 0.5], "symbols": ["A", "B"]},
        "allocator": [{"rule": "mur_cap", "cap": [0.6, 0.7, 0.8]}, {"rule": "band", "band": 0.1}],
        "regime": {"name": "cross", "leverage": [3, 3, 5]},
    }
    assert many.varying_axes(summary, 3) == {
        "window": [1, 2, 1],
        "mur_cap.cap": [0.6, 0.7, 0.8],
        "regime.leverage": [3, 3, 5],
    }


def test_axes_fall_back_to_the_key_value_words_of_the_labels():
    summary = {
        "strategy": {"name": "hold", "size": 1.0},
        "labels": ["hold n=1 f=0.5", "hold n=2 f=0.5", "hold n=3 f=1"],
    }
    assert many.varying_axes(summary, 3) == {"n": [1, 2, 3], "f": [0.5, 0.5, 1]}


def test_the_header_states_notes_preset_and_its_assumptions_and_caps_long_lists(grid_page):
    header = grid_page[grid_page.index('id="what-ran"') : grid_page.index('id="results"')]
    assert "<dt>Preset</dt><dd>deribit" in header and "margin-rules.md §4.2" in header
    assert "<dt>Preset assumptions</dt>" in header and "parameter versions from: 2024-06-17" in header
    assert "settled at the spot close &lt;index proxy&gt;" in header
    assert "… and 48 more" in header  # 60 labels: 12 shown
    assert plain(list(range(30))) == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, … and 18 more]"


def test_few_books_keep_todays_sections(two_runs, tmp_path):
    page = reports.build_report(two_runs, tmp_path / "few.html").read_text("utf-8")
    assert 'id="results"' not in page and "<h2>Equity</h2>" in page


def _rows(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "w": np.repeat([10, 20, 30, 40], n // 4),
            "k": np.tile([0.1, 0.2, 0.3, 0.4, 0.5], n // 5),
            "roe": rng.normal(0, 0.2, n),
            "max_mur": rng.uniform(0, 1, n),
            "min_buffer": rng.uniform(1, 5, n),
            "ruined": rng.random(n) < 0.1,
        }
    )


ABOUT = {
    "market": {
        "source": "binance (BTCUSDT)",
        "symbols": ["BTCUSDT"],
        "start": "2024-01-01T00:00:00+00:00",
        "end": "2024-01-02T00:00:00+00:00",
        "bars": 25,
        "notes": ["BTCUSDT: 2 gap bars carry the last mark"],
    },
    "regime": {"name": "portfolio", "preset": "okx", "preset_source": "okx docs <pm>", "corr": 0.9},
    "allocator": [{"rule": "mur_cap", "cap": 0.7}],
}


def test_sweep_page_writes_the_many_book_report_from_rows(tmp_path):
    rows = _rows()
    out = sweep_page(rows, ["w", "k"], tmp_path / "sweep.html", about=ABOUT, title="ADX <sweep>")
    page = out.read_text("utf-8")
    assert "<title>ADX &lt;sweep&gt;</title>" in page and "40 points over w, k" in page
    assert "2 gap bars carry the last mark" in page and "okx docs &lt;pm&gt;" in page
    assert "<dt>Preset assumptions</dt>" in page and "corr: 0.9" in page
    assert "<dt>Window</dt><dd>2024-01-01 00:00 to 2024-01-02 00:00 UTC, 25 bars of 1h" in page
    data = json.loads(re.search(r'id="results-data">(.*?)</script>', page).group(1))
    assert data["rows"][0][0] == "w=10 k=0.1" and len(data["rows"]) == 40
    assert "No full series were kept" in page


def test_sweep_page_draws_the_kept_series_of_the_best_points_only(tmp_path):
    rows = _rows()
    time = pd.date_range("2024-01-01", periods=5, freq="1h", tz="UTC")
    kept = {
        i: pd.DataFrame({"time": time, "equity": 100.0 + i, "im": 10.0, "mm": 5.0, "deposits": 100.0})
        for i in rows.index
    }
    page = sweep_page(rows, ["w", "k"], tmp_path / "s.html", top_series=kept).read_text("utf-8")
    best = rows.sort_values("roe", ascending=False).index[:10]
    names = re.findall(r'"name":"(#\d+ · [^"]+)"', page[page.index('id="top-paths"') :])
    labels = [f"#{i + 1} · w={rows.at[key, 'w']} k={rows.at[key, 'k']}" for i, key in enumerate(best)]
    assert names == labels + labels  # equity, then MUR: the 10 best only


def test_sweep_page_refuses_an_axis_it_does_not_have(tmp_path):
    with pytest.raises(RunError, match="no column 'window'"):
        sweep_page(_rows(), ["w", "window"], tmp_path / "x.html")
    with pytest.raises(RunError, match="cannot rank by 'rom'"):
        sweep_page(_rows(), ["w"], tmp_path / "x.html", rank_by="rom")
    assert not (tmp_path / "x.html").exists()


def test_a_user_string_cannot_close_the_json_block():
    block = str(many.json_block("d", {"s": "</script><script>alert(1)</script>", "x": float("inf")}))
    assert block.count("</script>") == 1 and "\\u003c/script\\u003e" in block and '"inf"' in block
