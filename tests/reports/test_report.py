"""The HTML report: sections, thresholds, offline-ness, escaping and atomic failure."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs
from pmsim.reports.frames import RunView, downsample
from pmsim.reports.sections import SECTIONS
from pmsim.simulator.errors import RunError
from pmsim.simulator.results import read_run

from pmsim import reports

HEADINGS = (
    "What ran",
    "Summary",
    "Equity",
    "Margin utilisation (MUR)",
    "Return on margin (ROM) path",
    "Prices and liquidations",
    "Margin by regime",
    "Return statistics",
    "Definitions",
)
EXTERNAL = re.compile(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?\s*(https?:)?//""", re.I)


@pytest.fixture(scope="module")
def page(two_runs, tmp_path_factory) -> str:
    out = reports.build_report(
        two_runs, tmp_path_factory.mktemp("out") / "report.html", title="Test <report>"
    )
    return out.read_text(encoding="utf-8")


def test_every_section_heading_is_on_the_page(page):
    for heading in HEADINGS:
        assert f"<h2>{heading}</h2>" in page.replace("&amp;", "&"), heading


def test_market_source_and_regimes_are_stated(page):
    assert "synthetic (seed 7, calibrated to 2021-2024 BTC/ETH)" in page
    assert "Synthetic market" in page
    assert "<strong>cross</strong>" in page and "<strong>portfolio</strong>" in page
    assert "cross_underlying: per_underlying" in page


def test_mur_chart_has_the_70_and_80_percent_lines_and_shaded_zone(page):
    mur = page[page.index('id="mur"') : page.index('id="rom"')]
    assert '"text":"70%"' in mur and '"text":"80%"' in mur
    assert '"y0":70.0,"y1":80.0' in mur.replace(" ", "")
    assert '"text":"danger zone"' in mur


def test_definitions_box_defines_each_word(page):
    box = page[page.index('id="definitions"') :]
    for word in (
        "ROM (return on margin)",
        "MUR (margin utilisation ratio)",
        "Buffer",
        "Free capital",
        "Liquidation",
        "Bankruptcy loss",
    ):
        assert f"<dt>{word}</dt>" in box, word


def test_summary_has_one_row_per_run_and_config_and_the_metric_definitions(page):
    table = page[page.index('id="summary"') : page.index('id="equity"')]
    assert table.count("<tr><td>") == 4
    assert "time-average IM over the window" in table


def test_liquidations_are_marked_on_the_price_chart(page):
    prices = page[page.index('id="prices"') : page.index('id="margin-by-regime"')]
    assert prices.count('"name":"liquidation') == 2
    assert "2 liquidation(s)" in prices


def test_page_is_self_contained_with_one_plotly_js(page):
    assert not EXTERNAL.search(page)
    assert "@import" not in page and "fonts.googleapis" not in page
    assert page.count(get_plotlyjs()[:300]) == 1
    # equity, MUR, ROM, distance to liquidation, one price chart, margin by regime
    assert page.count('class="plotly-graph-div"') == 6


def test_user_text_is_escaped(page):
    assert "<0.2 BTC>" not in page and "small &lt;0.2 BTC&gt;" in page
    assert "<title>Test &lt;report&gt;</title>" in page


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.__name__)
def test_each_section_renders_alone(section, two_runs):
    fragment = section([RunView(read_run(path)) for path in two_runs])
    assert fragment.lstrip().startswith("<section id=") and fragment.rstrip().endswith("</section>")


def test_single_run_margin_section_says_only_one_regime(two_runs):
    from pmsim.reports.sections import margin_by_regime

    assert "Only one regime ran (cross)" in margin_by_regime([RunView(read_run(two_runs[0]))])


def test_write_into_a_file_as_parent_raises_and_leaves_nothing(two_runs, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(RunError, match="not-a-folder"):
        reports.build_report(two_runs, blocker / "report.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


def test_write_over_a_folder_raises_and_leaves_no_temporary_file(two_runs, tmp_path):
    (tmp_path / "report.html").mkdir()
    with pytest.raises(RunError, match="exists and is not a pmsim report"):
        reports.build_report(two_runs, tmp_path / "report.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert not any((tmp_path / "report.html").iterdir())


def test_missing_run_folder_or_no_runs_is_a_run_error(tmp_path):
    with pytest.raises(RunError, match="not a complete run folder"):
        reports.build_report([tmp_path / "nope"], tmp_path / "r.html")
    with pytest.raises(RunError, match="no run folders"):
        reports.build_report([], tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_downsample_keeps_spikes_and_bounds_points():
    values = pd.Series(np.sin(np.arange(100_000) / 500.0))
    values.iloc[31_337], values.iloc[77_777] = 9.0, -9.0
    thin = downsample(values, max_points=2000)
    assert len(thin) <= 2002 and thin.index.is_monotonic_increasing
    assert thin.max() == 9.0 and thin.min() == -9.0 and thin.index[0] == 0 and thin.index[-1] == 99_999
    short = pd.Series([1.0, np.nan, np.inf])
    assert downsample(short) is short


def test_long_runs_are_downsampled_in_the_page(make_run, tmp_path):
    out = reports.build_report([make_run(bars=9000)], tmp_path / "long.html")
    assert out.stat().st_size < 8_000_000


def test_public_surface():
    assert sorted(reports.__all__) == ["SECTIONS", "build_report", "render_report"]
