"""Metrics on hand-written few-bar series (arithmetic beside each assertion), a few properties, and one
engine run of a hold book worn to nothing by cuts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pmsim.simulator import metrics
from pmsim.simulator.metrics import ConfigBars, summarise

from tests.kit import worn_down_hold

HOUR = 3600.0
INF = math.inf


def bars(equity, im, mm=None, deposits=1000.0, config=0, tz="UTC") -> pd.DataFrame:
    n = len(equity)
    return pd.DataFrame(
        {
            "time": pd.date_range("2024-01-01", periods=n, freq="1h", tz=tz),
            "config": config,
            "equity": np.asarray(equity, dtype=float),
            "im": np.asarray(im, dtype=float),
            "mm": np.asarray(mm if mm is not None else np.asarray(im, dtype=float) / 2, dtype=float),
            "deposits": deposits,
            "fees": np.linspace(0, 3.0, n),
            "funding": np.linspace(0, -1.5, n),
            "bankruptcy_loss": np.r_[np.zeros(n - 1), 7.0],
        }
    )


def events(rows=()) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["time", "config", "kind", "symbol", "qty", "price", "amount", "note"])


FOUR_BARS = bars(equity=[1000, 1010, 990, 1030], im=[0, 100, 200, 300], mm=[0, 50, 100, 150])


def one(series: pd.DataFrame, evts: pd.DataFrame | None = None) -> ConfigBars:
    return ConfigBars(series, events() if evts is None else evts, HOUR)


# ------------------------------------------------------------------------------------------ by hand


def test_hand_computed_four_bars():
    b = one(FOUR_BARS)
    assert metrics.final_equity(b) == 1030.0
    assert metrics.net_pnl(b) == 30.0  # 1030 - 1000
    assert metrics.roe(b) == pytest.approx(0.03)  # 30 / 1000 deposited
    assert metrics.in_market(b) == 0.75  # IM > 0 on bars 1, 2, 3 of 4
    assert metrics.rom(b) == pytest.approx(0.15)  # 30 / mean(100, 200, 300) = 30 / 200; bar 0 held nothing
    assert metrics.rom_annualised(b) == pytest.approx(0.15 * 8760 / 4)  # window 4 h, year 8760 h
    assert metrics.rom_flag(b) == ""  # 75 % of bars in market, time-average IM 150 = 15 % of deposits
    assert metrics.max_mur(b) == pytest.approx(300 / 1030)  # MUR: 0, .099, .202, .291
    assert metrics.min_buffer(b) == pytest.approx(1030 / 150)  # inf (MM 0), 20.2, 9.9, 6.87
    assert metrics.ruined(b) is False and metrics.ruin_time(b) is None
    assert metrics.fees(b) == 3.0 and metrics.funding(b) == -1.5 and metrics.bankruptcy_loss(b) == 7.0


def test_rom_path_by_hand():
    # pnl 0, 10, -10, 30 over the mean IM of the bars so far that held margin: -, 100, 150, 200
    path = metrics.rom_path(FOUR_BARS)
    assert math.isnan(path.iloc[0])
    assert path.iloc[1:].tolist() == pytest.approx([0.1, -10 / 150, 0.15])


def test_one_mur_and_one_buffer_by_hand():
    # MUR: no IM -> 0 (whatever the equity); IM with equity <= 0 -> inf; never NaN
    mur = metrics.mur_of(np.array([0, 10, 10, 10, 0]), np.array([100, 100, 0, -5, -5]))
    assert mur.tolist() == [0.0, 0.1, INF, INF, 0.0]
    # buffer: MM 0 -> inf; otherwise equity / MM, negative once equity is
    assert metrics.buffer_of(np.array([100, 100, -5]), np.array([0, 50, 10])).tolist() == [INF, 2.0, -0.5]
    assert metrics.mur_path(FOUR_BARS).tolist() == pytest.approx([0, 100 / 1010, 200 / 990, 300 / 1030])
    assert metrics.buffer_path(FOUR_BARS).tolist() == pytest.approx([INF, 20.2, 9.9, 1030 / 150])


def test_a_book_flat_99_percent_of_the_time_has_its_rom_flagged():
    im = np.zeros(100)
    im[50] = 500.0  # one bar of 100 in the market
    equity = np.r_[np.full(51, 1000.0), np.full(49, 1001.0)]
    b = one(bars(equity=equity, im=im))
    assert metrics.in_market(b) == 0.01
    assert metrics.rom(b) == pytest.approx(1 / 500)  # the old time-average IM (5) gave 1 / 5 = 20 %
    assert metrics.rom_flag(b) == (
        "in the market on 1.0% of bars (< 10%); mean IM 0.50% of deposits (< 1%)"  # 5 / 1000
    )


def test_rom_of_a_tiny_book_always_in_the_market_is_flagged_for_its_margin():
    b = one(bars(equity=[1000, 1002, 1004], im=[5, 5, 5]))  # IM 0.5 % of 1000 on every bar
    assert metrics.in_market(b) == 1.0 and metrics.rom(b) == pytest.approx(4 / 5)
    assert metrics.rom_flag(b) == "mean IM 0.50% of deposits (< 1%)"


def test_never_in_the_market():
    b = one(bars(equity=[1000, 1005], im=[0, 0]))
    assert math.isnan(metrics.rom(b)) and math.isnan(metrics.rom_annualised(b))
    assert metrics.rom_path(b.series).isna().all()
    assert metrics.rom_flag(b) == "never in the market"
    assert metrics.min_buffer(b) == INF and metrics.max_mur(b) == 0.0
    assert metrics.roe(b) == pytest.approx(0.005)


RUINED = bars(equity=[1000, 500, 10, 5, 50], im=[0, 350, 7, 3.5, 35], mm=[0, 100, 2, 1, 10])


def test_ruin_by_hand_stops_paths_and_counts_a_total_loss():
    b = one(RUINED)
    # floor 1 % of 1000 = 10: bar 2 (equity 10) is the first at or below it
    assert b.ruin == 2 and metrics.ruined(b) is True
    assert metrics.ruin_time(b) == "2024-01-01T02:00:00+00:00"
    assert metrics.final_equity(b) == 50.0 and metrics.net_pnl(b) == -950.0  # the account's own numbers
    assert metrics.roe(b) == -1.0  # not -95 %: the recovery after the ruin does not count
    assert metrics.rom(b) == pytest.approx(-1000 / 178.5)  # total loss / mean(350, 7)
    assert metrics.rom_annualised(b) == pytest.approx(-1000 / 178.5 * 8760 / 3)  # window ends at bar 2
    assert metrics.in_market(b) == pytest.approx(2 / 3)  # bars 0..2
    assert metrics.max_mur(b) == pytest.approx(0.7)  # 0, 350/500, 7/10; bar 3's 3.5/5 is after the ruin
    assert metrics.min_buffer(b) == pytest.approx(5.0)  # inf, 500/100, 10/2
    path = metrics.rom_path(RUINED)
    assert path.iloc[1] == pytest.approx(-500 / 350) and path.iloc[2] == pytest.approx(-1000 / 178.5)
    assert path.iloc[3:].isna().all()
    stopped = metrics.stop_at_ruin(RUINED["equity"], RUINED)
    assert stopped.iloc[:3].tolist() == [1000, 500, 10] and stopped.iloc[3:].isna().all()


def test_counts_by_kind_and_decisions_by_rule():
    t = pd.Timestamp("2024-01-01", tz="UTC")
    evts = events(
        [
            (t, 0, "liquidation", "BTCUSDT", -1, 1, 0, ""),
            (t, 0, "fill", "BTCUSDT", 1, 1, 0, ""),
            (t, 0, "liquidation", "ETHUSDT", -1, 1, 0, ""),
            (t, 0, "cut", "", np.nan, np.nan, 0.5, "MUR cap 0.7"),
            (t, 0, "cut", "", np.nan, np.nan, 0.9, "MUR cap 0.7"),
            (t, 0, "cut", "", np.nan, np.nan, 0.8, "buffer floor 1.2"),
            (t, 0, "rejection", "", np.nan, np.nan, 0.0, "initial margin check"),
            (t, 0, "stage", "", np.nan, np.nan, 0.5, "deployment advanced"),
            (t, 0, "stop", "", np.nan, np.nan, 700.0, "drawdown stop 0.25"),
        ]
    )
    b = one(FOUR_BARS, evts)
    assert metrics.liquidations(b) == 1  # one account-wide liquidation of two legs in one bar
    later = pd.concat(
        [evts, events([(t + pd.Timedelta(hours=2), 0, "liquidation", "BTCUSDT", -1, 1, 0, "")])]
    )
    assert metrics.liquidations(one(FOUR_BARS, later)) == 2  # a second bar is a second liquidation
    counts = [metrics.METRICS[k](b) for k in ("cuts", "rejections", "stage_changes", "stops")]
    assert counts == [3, 1, 1, 1]
    assert metrics.decisions(b) == {
        "cut": {"MUR cap 0.7": 2, "buffer floor 1.2": 1},
        "rejection": {"initial margin check": 1},
        "stage": {"deployment advanced": 1},
        "stop": {"drawdown stop 0.25": 1},
    }


def test_events_after_a_ruin_are_not_counted():
    # RUINED is ruined at bar 2 (02:00); a dead book's refused re-entries at 03:00 and 04:00 are no decisions
    t = pd.date_range("2024-01-01", periods=5, freq="1h", tz="UTC")
    evts = events(
        [
            (t[1], 0, "rejection", "", np.nan, np.nan, 0.0, "initial margin check"),
            (t[2], 0, "liquidation", "BTCUSDT", -1, 1, 0, ""),
            (t[3], 0, "rejection", "", np.nan, np.nan, 0.0, "initial margin check"),
            (t[4], 0, "rejection", "", np.nan, np.nan, 0.0, "initial margin check"),
            (t[4], 0, "liquidation", "BTCUSDT", -1, 1, 0, ""),
        ]
    )
    b = one(RUINED, evts)
    assert metrics.rejections(b) == 1 and metrics.liquidations(b) == 1  # bars 1 and 2 only
    assert metrics.decisions(b) == {"rejection": {"initial margin check": 1}}


def test_summarise_one_dict_per_config_ascending_with_all_keys():
    series = pd.concat(
        [bars([1000, 900], [10, 20], config=1), bars([1000, 1100], [50, 50], config=0, tz=None)]
    )
    t = pd.Timestamp("2024-01-01")
    rows = summarise(series.iloc[::-1], events([(t, 1, "liquidation", "BTCUSDT", -1, 1, 0, "")]), HOUR)
    assert [r["config"] for r in rows] == [0, 1]
    assert list(rows[0]) == ["config", *metrics.METRICS, "decisions"]
    assert rows[0]["net_pnl"] == 100.0 and rows[0]["rom"] == pytest.approx(2.0)  # 100 / 50
    assert rows[1]["net_pnl"] == -100.0 and rows[1]["rom"] == pytest.approx(-100 / 15)  # mean IM 15
    assert (rows[0]["liquidations"], rows[1]["liquidations"]) == (0, 1)
    assert isinstance(rows[1]["liquidations"], int) and isinstance(rows[1]["bars_above_mur_70"], int)
    assert rows[0]["decisions"] == {} and rows[0]["ruined"] is False


def test_bars_above_danger_lines_stop_at_the_ruin():
    # MUR 0.5, 0.75, 0.85, inf (equity -1 <= 1 % of 1000: ruined there), then 0.9 after the ruin
    b = one(bars(equity=[100, 100, 100, -1, 100], im=[50, 75, 85, 1, 90], deposits=100.0))
    assert metrics.METRICS["bars_above_mur_70"](b) == 3
    assert metrics.METRICS["bars_above_mur_80"](b) == 2
    assert metrics.max_mur(b) == INF


def test_registry_is_read_only_and_every_metric_has_a_printed_definition():
    with pytest.raises(TypeError):
        metrics.METRICS["rom"] = metrics.fees  # type: ignore[index]
    for name in metrics.METRICS:
        assert len(metrics.definition(name)) > 20, name
    assert "bars that held margin (IM > 0)" in metrics.definition("rom")
    assert "10% of its bars" in metrics.definition("rom_flag") and "1% of deposits" in metrics.definition(
        "ruined"
    )


# ----------------------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(1.0, 1e6), st.just(0.0) | st.floats(1e-3, 1e6)), min_size=1, max_size=40),
    st.floats(1.0, 1e6),
)
def test_rom_path_ends_at_rom_and_a_ruin_is_never_better_than_a_total_loss(rows, deposits):
    equity, im = zip(*rows, strict=True)
    series = bars(equity=equity, im=im, deposits=deposits)
    b = one(series)
    last = metrics.rom_path(series).iloc[len(b.lived) - 1]
    rom = metrics.rom(b)
    assert (math.isnan(rom) and math.isnan(last)) or last == pytest.approx(rom, rel=1e-9, abs=1e-12)
    if metrics.ruined(b):
        assert metrics.roe(b) == -1.0 and not rom > 0
        assert metrics.rom_path(series).iloc[len(b.lived) :].isna().all()
    else:
        assert metrics.roe(b) == pytest.approx(metrics.net_pnl(b) / deposits)


# --------------------------------------------------------------------------- one engine run, end to end


@pytest.fixture(scope="module")
def worn_down():
    return worn_down_hold()


def test_a_hold_book_worn_to_nothing_by_cuts_is_ruined_without_a_liquidation(worn_down):
    (row,) = summarise(worn_down.series, worn_down.events, HOUR)
    assert row["liquidations"] == 0 and row["ruined"] is True
    assert row["cuts"] > 30 and row["decisions"] == {"cut": {"test MUR hold-at 0.7": row["cuts"]}}
    assert row["roe"] == -1.0 and row["final_equity"] < 0.01 * 10_000
    equity = worn_down.series["equity"].to_numpy()
    ruin = int(np.argmax(equity <= 100.0))
    assert ruin == 42 and np.all(equity[ruin:] > 0)  # worn to under 1 %, never to zero
    assert row["ruin_time"] == pd.Timestamp(worn_down.series["time"].iloc[ruin]).isoformat()


def test_the_engine_records_the_one_mur_and_buffer(worn_down):
    s = worn_down.series
    np.testing.assert_array_equal(s["mur"].to_numpy(), metrics.mur_path(s).to_numpy())
    np.testing.assert_array_equal(s["buffer"].to_numpy(), metrics.buffer_path(s).to_numpy())
    assert s["buffer"].iloc[0] == INF and s["mur"].iloc[0] == 0.0  # bar 0: nothing held yet
