"""The many-book report in real headless Chromium: no console message, every chart drawn with its data,
the table sorts and filters (a click made by the page's hash hook), and user strings stay text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pmsim.reports.sweep import sweep_page

from pmsim import reports
from tests.reports.grid import grid_run
from tests.reports.test_report_browser import NO_NETWORK, RENDERED_FIGURE, chromium, console, run_chromium

__all__ = ["chromium"]  # the fixture, imported for the tests below

WINDOWS, ENTRIES = (12, 24, 48, 96, 168, 336), (15.0, 18.0, 20.0, 22.0, 25.0, 28.0, 30.0, 35.0, 40.0, 45.0)
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> tuple[Path, Path]:
    """A 60-book run folder and its report."""
    root = tmp_path_factory.mktemp("grid")
    run = grid_run(root / "run", WINDOWS, ENTRIES)
    return run, reports.build_report([run], root / "grid.html")


def _section(dom: str, start: str, end: str) -> str:
    return dom[dom.index(f'id="{start}"') : dom.index(f'id="{end}"')]


def _table(dom: str) -> list[list[str]]:
    """The results table's body rows as cell texts."""
    body = _section(dom, "results", "frontier").split("<tbody>")[1].split("</tbody>")[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_every_chart_draws_its_data_and_the_header_click_sorts(chromium, grid, tmp_path):
    run, page = grid
    result = run_chromium(chromium, page, tmp_path / "profile", NO_NETWORK, "--dump-dom", fragment="sort=roe")
    assert result.returncode == 0, result.stderr[-2000:]
    assert console(result) == []
    dom = result.stdout
    figures = page.read_text("utf-8").count('class="plotly-graph-div"')
    assert figures == 4 and len(RENDERED_FIGURE.findall(dom)) == figures
    # the frontier: one marker per book (every max MUR here is finite)
    assert _section(dom, "frontier", "heatmaps").count('class="point"') == 60
    assert 'class="hm"' in _section(dom, "heatmaps", "top-paths")  # the heatmap's layer drew its cells
    assert _section(dom, "top-paths", "definitions").count('class="js-line"') >= 2 * 10
    # the hash hook clicked the ROE header once: best ROE first
    summary = json.loads((run / "summary.json").read_text())
    best = summary["labels"][max(summary["configs"], key=lambda c: c["roe"])["config"]]
    rows = _table(dom)
    assert 'data-sorted="roe:desc"' in dom and len(rows) == 60
    assert rows[0][0] == best.replace("<", "&lt;").replace(">", "&gt;")
    roe = [float(r[3].rstrip("%")) for r in rows]
    assert roe == sorted(roe, reverse=True)


def test_the_filter_box_keeps_the_matching_books(chromium, grid, tmp_path):
    _, page = grid
    result = run_chromium(
        chromium, page, tmp_path / "profile", "--dump-dom", fragment="filter=window=12&sort=entry"
    )
    assert result.returncode == 0 and console(result) == []
    rows = _table(result.stdout)
    assert 'data-shown="10"' in result.stdout and len(rows) == 10
    assert {r[1] for r in rows} == {"12"} and [r[2] for r in rows] == [f"{e:g}" for e in reversed(ENTRIES)]


def test_user_strings_render_as_text(chromium, tmp_path):
    rows = pd.DataFrame(
        {
            "w": np.repeat([1, 2, 3, 4], 4),
            "mode": np.tile([XSS, "a&b", 'q"uote', "plain"], 4),
            "roe": np.linspace(-0.5, 0.5, 16),
            "max_mur": np.linspace(0.1, 0.9, 16),
            "min_buffer": np.linspace(5.0, 1.1, 16),
            "ruined": [True] + [False] * 15,
        }
    )
    rows["book"] = [f"{XSS} #{i}" for i in range(16)]
    about = {"market": {"source": XSS, "notes": [XSS]}, "regime": {"name": XSS}}
    page = sweep_page(rows, ["w", "mode"], tmp_path / "xss.html", about=about, title=XSS)
    assert XSS not in page.read_text("utf-8")
    result = run_chromium(chromium, page, tmp_path / "profile", "--dump-dom", fragment="sort=book")
    assert (
        result.returncode == 0 and console(result) == []
    )  # an alert() would not log, but a broken page would
    dom = result.stdout
    assert XSS not in dom and "alert(1)" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt; #0" in _table(dom)[0][0]
    assert len(RENDERED_FIGURE.findall(dom)) == 2  # frontier and heatmap (no series kept: no top paths)
