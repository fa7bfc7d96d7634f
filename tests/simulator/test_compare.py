"""``pmsim compare``: positions mode judged by hand on a two-leg book, rules mode equal to separate runs,
and the example end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pmsim.simulator.cli import main
from pmsim.simulator.compare.folder import TABLE
from pmsim.simulator.compare.regimes import parse_regimes
from pmsim.simulator.compare.run import positions_mode, rules_mode, wire, write_comparison
from pmsim.simulator.config import RunConfig
from pmsim.simulator.market.handmade import handmade_market

REPO = Path(__file__).resolve().parents[2]
PERP, QUARTER = "BTCUSDT", "BTCUSDT_241227"
SPIKE = 66_420.0  # bar 4's quarterly mark high: +8 % on 61,500


def _two_leg_market():
    """Six flat hourly bars from 2024-09-27 04:00 (bar 3 closes at 08:00, 91 days before the quarterly's
    expiry); in bar 4 the quarterly's mark touches 66,420 while the perpetual stays at 60,000."""
    return handmade_market(
        {PERP: [60_000.0] * 6, QUARTER: [61_500.0] * 6},
        start="2024-09-27T04:00",
        mark_high={QUARTER: [61_500.0] * 4 + [SPIKE, 61_500.0]},
    )


def _two_leg_config() -> RunConfig:
    return RunConfig.from_dict(
        {
            "name": "two-leg",
            "strategy": {"name": "hold", "params": {"positions": {PERP: 5.0, QUARTER: -5.0}}},
            "account": {"wallet": 200_000.0, "slippage": 0.0},
            "stress": {"every": 0, "shocks": {"BTC": -0.3}},
        }
    )


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    choices = parse_regimes("isolated,cross,portfolio:deribit")
    runs = wire(_two_leg_config(), choices, _two_leg_market())
    out = tmp_path_factory.mktemp("cmp") / "two-leg"
    write_comparison(out, positions_mode(choices, runs, lambda run: None), "positions", "two legs", False)
    return out


def _read(out: Path, label: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / label / name)


def test_positions_mode_fills_equity_and_funding_are_identical(judged):
    base = _read(judged, "isolated", "events.parquet")
    fills = base[base["kind"] == "fill"].reset_index(drop=True)
    assert len(fills) == 2  # both legs fill at bar 1's open (the hold book's decision at bar 0's close)
    for label in ("cross", "portfolio-deribit"):
        events = _read(judged, label, "events.parquet")
        pd.testing.assert_frame_equal(events[events["kind"] == "fill"].reset_index(drop=True), fills)
        for column in ("equity", "wallet", "realised", "fees", "notional:BTCUSDT", "notional:BTCUSDT_241227"):
            pd.testing.assert_series_equal(
                _read(judged, label, "series.parquet")[column],
                _read(judged, "isolated", "series.parquet")[column],
            )


def test_positions_mode_requirements_as_computed_by_hand(judged):
    # fees: 0.05 % taker on 5 x 60,000 = 300,000 (150) and 5 x 61,500 = 307,500 (153.75); prices flat,
    # so equity at bar 3's close = 200,000 - 303.75 = 199,696.25 in every regime
    equity = 200_000 - 0.0005 * (300_000 + 307_500)
    # cross (Binance brackets, leverage 20): perp 300,000 in tier [50k, 600k): MMR 0.5 %, cum 50 -> MM 1,450,
    # IM 300,000 / 20 = 15,000; quarterly 307,500 in tier [50k, 375k): MMR 2 %, cum 500 -> MM 5,650,
    # max leverage 25 > 20 -> IM 307,500 / 20 = 15,375. Cross IM = sum of the legs' IM = 30,375, MM 7,100.
    cross_im, cross_mm = 15_000 + 15_375, 1_450 + 5_650
    # Deribit PM at 2024-09-27 08:00: net delta 300,000 - 307,500 = -7,500 USDT, worst at +16 % -> 1,200;
    # roll shock leg by leg: perp at the 1 % floor of 300,000 = 3,000, quarterly 7.5 %/yr x 91/365.25
    # of 307,500 = 5,745.90. IM = worst + roll = 9,945.90, MM = 0.8 x IM
    pm_im = 0.16 * 7_500 + 0.01 * 300_000 + 0.075 * 91 / 365.25 * 307_500
    expected = {
        "isolated": (cross_im, cross_mm),
        "cross": (cross_im, cross_mm),
        "portfolio-deribit": (pm_im, 0.8 * pm_im),
    }
    for label, (im, mm) in expected.items():
        bar3 = _read(judged, label, "series.parquet").iloc[3]
        assert bar3["equity"] == pytest.approx(equity, abs=1e-9)
        assert (bar3["im"], bar3["mm"]) == pytest.approx((im, mm), abs=0.01)
        assert bar3["mur"] == pytest.approx(im / equity, rel=1e-9)
        assert bar3["buffer"] == pytest.approx(equity / mm, rel=1e-9)
        assert bar3["free"] == pytest.approx(equity - im, abs=0.01)
    assert pm_im == pytest.approx(9_945.90, abs=0.01)


def test_positions_mode_records_the_isolated_liquidation_it_would_force(judged):
    # bar 4: the quarterly touches 66,420. Its isolated wallet is its IM at entry less its fee:
    # 15,375 - 153.75 = 15,221.25; the short loses 5 x 4,920 = 24,600; MM at 5 x 66,420 = 332,100
    # (tier [50k, 375k)): 2 % - 500 = 6,142. Gap = 15,221.25 - 24,600 - 6,142 = -15,520.75: liquidated.
    # Cross and PM: equity 199,696.25 - 24,600 stays far above their MM, so no event.
    would = _read(judged, "isolated", "events.parquet").query("kind == 'would_liquidate'")
    assert len(would) == 1
    row = would.iloc[0]
    assert (row["time"], row["symbol"]) == (pd.Timestamp("2024-09-27T08:00", tz="UTC"), QUARTER)
    assert (row["qty"], row["price"], row["amount"]) == pytest.approx((5.0, SPIKE, -15_520.75), abs=1e-6)
    for label in ("cross", "portfolio-deribit"):
        assert not (_read(judged, label, "events.parquet")["kind"] == "would_liquidate").any()
        assert (_read(judged, label, "events.parquet")["kind"] != "liquidation").all()
    table = pd.read_parquet(judged / TABLE).set_index("regime")
    assert table.loc["isolated", "liquidations"] == 1 and table.loc["isolated", "breach_bars"] == 1
    assert table.loc["cross", "freed_vs_isolated"] == 0.0  # same brackets, same book: nothing freed
    pm_saves = table.loc["isolated", "mean_im"] - table.loc["portfolio-deribit", "mean_im"]
    assert table.loc["portfolio-deribit", "freed_vs_isolated"] == pytest.approx(pm_saves)
    assert pm_saves > 0.6 * table.loc["isolated", "mean_im"]


def test_would_be_liquidations_fall_on_the_bars_each_regime_liquidates_when_it_runs_alone(tmp_path):
    """Independent check of the evaluation: a long of 1 BTC on 11,000 USDT in a market falling 1 % a bar.
    Every regime's IM check lets the book in, so until its first liquidation each rules-mode run holds
    the positions-mode book; the first would-be liquidation must fall on the engine's first liquidation."""
    market = handmade_market({PERP: 60_000 * 0.99 ** np.arange(40)})
    config = RunConfig.from_dict(
        {
            "name": "falling",
            "strategy": {"name": "hold", "params": {"positions": {PERP: 1.0}}},
            "account": {"wallet": 11_000.0, "slippage": 0.0},
            "stress": {"every": 0, "shocks": {"BTC": -0.3}},
        }
    )
    choices = parse_regimes("cross,isolated,portfolio:deribit")
    firsts = {}
    for mode, run_mode, kind in (
        ("rules", rules_mode, "liquidation"),
        ("positions", positions_mode, "would_liquidate"),
    ):
        outcomes = run_mode(choices, wire(config, choices, market), lambda run: None)
        out = write_comparison(tmp_path / mode, outcomes, mode, mode, False)
        for choice in choices:
            events = _read(out, choice.label, "events.parquet")
            firsts[mode, choice.label] = events.loc[events["kind"] == kind, "time"].min()
    for choice in choices:
        assert firsts["positions", choice.label] == firsts["rules", choice.label], choice.label
        assert firsts["rules", choice.label] is not pd.NaT
    # isolated (3,000 - 30 of margin) goes first, PM (MM = 0.8 x ~17 % of notional) next, cross last
    order = [firsts["rules", label] for label in ("isolated", "portfolio-deribit", "cross")]
    assert order == sorted(order) and len(set(order)) == 3


def _small_example(tmp_path: Path, bars: int = 300) -> Path:
    text = (REPO / "examples" / "compare_basis.toml").read_text()
    assert "bars = 2000" in text
    path = tmp_path / "compare_basis.toml"
    path.write_text(text.replace("bars = 2000", f"bars = {bars}"))
    return path


def test_rules_mode_folders_match_separate_runs(tmp_path):
    config = _small_example(tmp_path, bars=200)
    assert (
        main(
            [
                "compare",
                str(config),
                "--regimes",
                "cross,portfolio:deribit",
                "--mode",
                "rules",
                "--out",
                str(tmp_path / "cmp"),
            ]
        )
        == 0
    )
    pm = config.read_text().replace(
        'name = "cross"\nparams = { leverage = 20.0 }', 'name = "portfolio"\npreset = "deribit"'
    )
    (tmp_path / "pm.toml").write_text(pm)
    for label, toml in (("cross", config), ("portfolio-deribit", tmp_path / "pm.toml")):
        assert main(["run", str(toml), "--out", str(tmp_path / label)]) == 0
        alone = json.loads((tmp_path / label / "summary.json").read_text())
        compared = json.loads((tmp_path / "cmp" / label / "summary.json").read_text())
        assert compared["configs"] == alone["configs"] and compared["regime"] == alone["regime"]
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "cmp" / label / "series.parquet"),
            pd.read_parquet(tmp_path / label / "series.parquet"),
        )


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """``examples/compare_basis.toml`` on 300 bars, all four regimes, positions mode: (folder, argv)."""
    root = tmp_path_factory.mktemp("example")
    out, regimes = root / "cmp", "isolated,cross,portfolio:deribit,portfolio:okx"
    argv = [
        "compare",
        str(_small_example(root)),
        "--regimes",
        regimes,
        "--mode",
        "positions",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    return out, argv


def test_example_runs_end_to_end_and_the_report_opens_on_the_capital_table(example):
    out, argv = example
    table = pd.read_parquet(out / TABLE)
    assert list(table["regime"].unique()) == ["isolated", "cross", "portfolio-deribit", "portfolio-okx"]
    assert len(table) == 8 and (table["mode"] == "positions").all()
    assert (table.groupby("config")["roe"].nunique() == 1).all()  # one book, one PnL, in positions mode
    html = (out / "report.html").read_text()
    assert html.index('id="capital"') < html.index('id="capital-paths"') < html.index('id="what-ran"')
    assert "portfolio (deribit)" in html and "portfolio (okx)" in html
    assert "are identical" in html  # isolated and cross ask the same IM of this book: the note says so
    assert main(argv) == 2  # the folder exists: --force replaces it
    assert main([*argv, "--force"]) == 0


def test_the_comparison_report_draws_every_chart_in_chromium(example, tmp_path):
    from tests.reports.test_report_browser import CHROMIUM, RENDERED_FIGURE, run_chromium

    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")
    report = example[0] / "report.html"
    result = run_chromium(CHROMIUM, report, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    figures = report.read_text(encoding="utf-8").count('class="plotly-graph-div"')
    assert figures >= 2 + 4  # a small-multiples figure per book, then the usual charts
    assert len(RENDERED_FIGURE.findall(result.stdout)) == figures
