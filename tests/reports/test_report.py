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
    "Allocator decisions",
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
        "ROE (return on equity)",
        "ROM flag ⚑",
        "Ruin",
    ):
        assert f"<dt>{word}</dt>" in box, word
    assert "1% of deposits" in box and "10% of its bars" in box  # thresholds stated on the page


def test_summary_has_one_row_per_run_and_config_and_the_metric_definitions(page):
    table = page[page.index('id="summary"') : page.index('id="decisions"')]
    assert table.count("<tr><td>") == 6
    assert "mean IM over the bars that held margin (IM &gt; 0)" in table


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
    assert sorted(reports.__all__) == ["SECTIONS", "build_report", "render_report", "sweep_page"]


def _summary_rows(page: str) -> dict[str, list[str]]:
    """Summary table rows of the first run, keyed by config label, cells as text."""
    table = page[page.index('id="summary"') : page.index('id="decisions"')]
    header = re.findall(r"<th[^>]*>(.*?)</th>", table)
    rows = {}
    for row in re.findall(r"<tr><td>(.*?)</tr>", table, re.S):
        cells = re.findall(r"(?:^|<td[^>]*>)(.*?)</td>", row)
        rows.setdefault(cells[1], dict(zip(header, cells, strict=True)))
    return rows


def test_a_book_worn_to_zero_by_cuts_reads_ruined_not_safe(page):
    worn = _summary_rows(page)["worn down"]
    assert worn["Liquidations"] == "0"
    assert worn["Ruined"] == "ruined 2024-03-02 12:00"  # bar 36: 36 h after 03-01 00:00
    assert worn["Cuts"] == "36" and worn["Rejections"] == "1"
    assert worn["ROE"] == "-100.00%"  # ends at 3 % of deposits, but the ruin is a total loss
    assert worn["Final equity"] == "300.00"  # the account's own number is kept
    small = _summary_rows(page)["small &lt;0.2 BTC&gt;"]
    assert small["Ruined"] == "no"
    stats = page[page.index('id="return-stats"') : page.index('id="definitions"')]
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", stats, re.S) if "worn down" in r)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[2:] == ["-100.00%", "-100.00%", "ruined", "ruined", "ruined", "-100.00%", "ruined"]


def test_dead_books_lines_stop_at_the_ruin_bar(two_runs):
    from pmsim.reports import sections
    from pmsim.simulator import metrics

    configs = RunView(read_run(two_runs[0])).configs
    worn = configs[2]
    assert worn.bars.ruin == 36
    for path in (lambda s: s["equity"], lambda s: metrics.mur_path(s), metrics.rom_path):
        fig = sections.line_chart(configs, path, "y")
        y = np.asarray(fig.data[2].y, dtype=float)
        assert np.isfinite(y[:37]).all() and np.isnan(y[37:]).all()
        assert np.isfinite(np.asarray(fig.data[0].y, dtype=float)[1:]).all()  # a live book keeps its line
    equity = sections.equity_chart([RunView(read_run(two_runs[0]))])
    assert equity.count('"text":["ruined"]') == 1


def test_decisions_are_counted_by_rule(page):
    section = page[page.index('id="decisions"') : page.index('id="equity"')]
    assert '<td>cut</td><td>MUR cap 0.7</td><td class="num">36</td>' in section
    assert '<td>rejection</td><td>initial margin check</td><td class="num">1</td>' in section


def test_header_shows_allocator_rules_preset_and_data_notes(page):
    header = page[page.index('id="what-ran"') : page.index('id="summary"')]
    assert "<li>rebalance_band: 0.1</li>" in header and "<li>mur_cap: 0.7</li>" in header
    assert "<dt>Preset</dt><dd>none (no preset)" in header
    assert "last-trade bars stand in for the mark" in header
    assert "settled at the spot close &lt;index proxy&gt;" in header  # escaped
    assert "3 gap bars carry the last mark" in header


def test_rom_of_a_mostly_flat_book_is_flagged_on_the_page(make_run, tmp_path):
    page = reports.build_report([make_run(liquidate_at=2)], tmp_path / "flat.html").read_text()
    large = _summary_rows(page)["large 1.5 BTC"]
    assert large["ROM"].endswith("⚑") and large["In market"] == "4.17%"  # 2 of 48 bars held margin
    assert "ROM flagged: in the market on 4.2% of bars (&lt; 10%)" in page
    assert not _summary_rows(page)["small &lt;0.2 BTC&gt;"]["ROM"].endswith("⚑")


@pytest.mark.parametrize(
    ("rules", "lines"),
    [
        ({"rebalance_band": 0.1, "mur_cap": 0.7}, ["rebalance_band: 0.1", "mur_cap: 0.7"]),
        (
            [{"rule": "mur_cap", "cap": 0.7, "mode": "new_risk"}, {"name": "stop", "drawdown": 0.25}],
            ["mur_cap (cap: 0.7; mode: new_risk)", "stop (drawdown: 0.25)"],
        ),
        ({"rules": [{"rule": "buffer_floor", "floor": 1.2}]}, ["buffer_floor (floor: 1.2)"]),
        ({"mur_cap": {"cap": 0.7, "mode": "hold_at"}}, ["mur_cap (cap: 0.7; mode: hold_at)"]),
        (["stages 25%/50%/100%"], ["stages 25%/50%/100%"]),
        ([], ["none: targets are traded as the strategy gives them"]),
        ({}, ["none: targets are traded as the strategy gives them"]),
        (None, ["not recorded in this run folder"]),
    ],
)
def test_allocator_rules_render_whatever_their_shape(rules, lines):
    from pmsim.reports.text import rule_lines

    assert rule_lines(rules) == lines


def test_the_regime_preset_is_named_in_the_header(make_run):
    from pmsim.reports.sections import header

    html = header([RunView(read_run(make_run(regime="portfolio", preset="deribit")))])
    assert "<dt>Preset</dt><dd>deribit" in html and "margin-rules.md §4.2" in html


def test_no_rules_and_no_notes_are_said_plainly(make_run, tmp_path):
    page = reports.build_report([make_run(allocator=[], notes=[])], tmp_path / "bare.html").read_text()
    header = page[page.index('id="what-ran"') : page.index('id="summary"')]
    assert "<li>none: targets are traded as the strategy gives them</li>" in header
    assert "<dt>Data notes</dt><dd>none</dd>" in header


def test_an_engine_run_worn_to_nothing_by_cuts_reads_ruined_on_the_page(tmp_path):
    from pmsim.simulator.metrics import THRESHOLDS, summarise
    from pmsim.simulator.results import write_run

    from tests.kit import worn_down_hold

    sim = worn_down_hold()
    prices = pd.DataFrame({"time": sim.series["time"], "mark:BTCUSDT": 100 * 0.985 ** np.arange(60)})
    summary = {
        "market": {"source": "handmade", "symbols": ["BTCUSDT"], "notes": []},
        "regime": {"name": "cross"},
        "thresholds": dict(THRESHOLDS),
        "labels": ["hold 700 BTC"],
        "configs": summarise(sim.series, sim.events, 3600.0),
    }
    config = {"name": "worn", "resolved": {"allocator": [{"rule": "hold_at", "cap": 0.7}]}}
    run = write_run(
        tmp_path / "worn", config=config, series=sim.series, prices=prices, events=sim.events, summary=summary
    )
    assert summary["configs"][0]["ruined"] and summary["configs"][0]["liquidations"] == 0
    page = reports.build_report([run], tmp_path / "worn.html").read_text()
    row = _summary_rows(page)["hold 700 BTC"]
    assert row["Liquidations"] == "0" and row["Ruined"] == "ruined 2024-01-02 18:00"  # bar 42
    assert row["Cuts"] == str(summary["configs"][0]["cuts"]) and row["ROE"] == "-100.00%"
    assert "<li>hold_at (cap: 0.7)</li>" in page


def test_a_positive_sharpe_on_a_losing_book_is_marked():
    from pmsim.reports.frames import ConfigView
    from pmsim.reports.tables import DRAG, _stat_cells
    from pmsim.simulator.metrics import ConfigBars

    # +50 % then -40 %, ten times: mean per-bar return +5 % (Sharpe > 0), compound 0.9^10 - 1 = -65.1 %
    equity = 10_000 * np.cumprod(np.r_[1.0, np.tile([1.5, 0.6], 10)])
    series = pd.DataFrame(
        {
            "time": pd.date_range("2024-01-01", periods=21, freq="1h", tz="UTC"),
            "equity": equity,
            "deposits": 10_000.0,
            "im": 1000.0,
        }
    )
    view = ConfigView("run", "vol drag", ConfigBars(series, pd.DataFrame({"kind": []}), 3600.0))
    cells = dict(
        zip(
            ["total", "ann", "vol", "sharpe", "sortino", "mdd", "calmar"],
            _stat_cells(view, 3600.0),
            strict=True,
        )
    )
    assert cells["total"] == "-65.13%"
    assert cells["sharpe"].endswith(f" {DRAG}") and float(cells["sharpe"].split()[0]) > 0
    assert cells["sortino"].endswith(f" {DRAG}") and not cells["calmar"].endswith(DRAG)
