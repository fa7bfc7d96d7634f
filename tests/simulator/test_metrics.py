"""Metrics on hand-written few-bar series (arithmetic beside each assertion) and a few properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pmsim.simulator import metrics
from pmsim.simulator.metrics import ConfigBars, summarise

HOUR = 3600.0


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


def test_hand_computed_four_bars():
    b = one(FOUR_BARS)
    assert metrics.final_equity(b) == 1030.0
    assert metrics.net_pnl(b) == 30.0  # 1030 - 1000
    assert metrics.rom(b) == pytest.approx(0.2)  # 30 / ((0+100+200+300)/4 = 150)
    assert metrics.rom_annualised(b) == pytest.approx(0.2 * 8760 / 4)  # window 4 h, year 8760 h -> 438
    assert metrics.max_mur(b) == pytest.approx(300 / 1030)  # MUR: 0, .099, .202, .291
    assert metrics.min_buffer(b) == pytest.approx(1030 / 150)  # bar 0 (MM 0) ignored; 20.2, 9.9, 6.87
    assert metrics.fees(b) == 3.0 and metrics.funding(b) == -1.5 and metrics.bankruptcy_loss(b) == 7.0


def test_rom_path_by_hand():
    # pnl 0, 10, -10, 30 over mean IM 0, 50, 100, 150
    path = metrics.rom_path(FOUR_BARS)
    assert math.isnan(path.iloc[0])
    assert path.iloc[1:].tolist() == pytest.approx([0.2, -0.1, 0.2])


def test_buffer_and_mur_paths_by_hand():
    assert metrics.buffer_path(FOUR_BARS).iloc[1:].tolist() == pytest.approx([20.2, 9.9, 1030 / 150])
    assert math.isnan(metrics.buffer_path(FOUR_BARS).iloc[0])
    assert metrics.mur_path(FOUR_BARS).tolist() == pytest.approx([0, 100 / 1010, 200 / 990, 300 / 1030])


def test_zero_im_means_undefined_rom_and_buffer():
    b = one(bars(equity=[1000, 1005], im=[0, 0]))
    assert math.isnan(metrics.rom(b)) and math.isnan(metrics.rom_annualised(b))
    assert metrics.rom_path(b.series).isna().all()
    assert math.isnan(metrics.min_buffer(b))
    assert metrics.max_mur(b) == 0.0


def test_equity_at_or_below_zero_gives_infinite_mur_or_nan_without_margin():
    series = bars(equity=[100, -50, -50], im=[10, 10, 0])
    assert metrics.mur_path(series).iloc[:2].tolist() == [0.1, math.inf]
    assert math.isnan(metrics.mur_path(series).iloc[2])
    assert metrics.max_mur(one(series)) == math.inf


def test_bars_above_danger_lines():
    # MUR 0.5, 0.75, 0.85, inf: three bars above 70%, two above 80%
    b = one(bars(equity=[100, 100, 100, -1], im=[50, 75, 85, 1]))
    assert metrics.METRICS["bars_above_mur_70"](b) == 3
    assert metrics.METRICS["bars_above_mur_80"](b) == 2


def test_liquidations_count_only_liquidation_events():
    t = pd.Timestamp("2024-01-01", tz="UTC")
    evts = events(
        [
            (t, 0, "liquidation", "BTCUSDT", -1, 1, 0, ""),
            (t, 0, "fill", "BTCUSDT", 1, 1, 0, ""),
            (t, 0, "liquidation", "ETHUSDT", -1, 1, 0, ""),
        ]
    )
    assert metrics.liquidations(one(FOUR_BARS, evts)) == 2


def test_summarise_one_dict_per_config_ascending_with_all_keys():
    series = pd.concat(
        [bars([1000, 900], [10, 20], config=1), bars([1000, 1100], [50, 50], config=0, tz=None)]
    )
    t = pd.Timestamp("2024-01-01")
    rows = summarise(series.iloc[::-1], events([(t, 1, "liquidation", "BTCUSDT", -1, 1, 0, "")]), HOUR)
    assert [r["config"] for r in rows] == [0, 1]
    assert list(rows[0]) == ["config", *metrics.METRICS]
    assert rows[0]["net_pnl"] == 100.0 and rows[0]["rom"] == pytest.approx(2.0)  # 100 / 50
    assert rows[1]["net_pnl"] == -100.0 and rows[1]["rom"] == pytest.approx(-100 / 15)  # mean IM 15
    assert (rows[0]["liquidations"], rows[1]["liquidations"]) == (0, 1)
    assert isinstance(rows[1]["liquidations"], int) and isinstance(rows[1]["bars_above_mur_70"], int)


def test_registry_is_read_only_and_every_metric_has_a_printed_definition():
    with pytest.raises(TypeError):
        metrics.METRICS["rom"] = metrics.fees  # type: ignore[index]
    for name in metrics.METRICS:
        assert len(metrics.definition(name)) > 20, name
    assert "time-average IM" in metrics.definition("rom")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(1.0, 1e6), st.just(0.0) | st.floats(1e-3, 1e6)), min_size=1, max_size=40),
    st.floats(1.0, 1e6),
)
def test_rom_path_ends_at_rom(rows, deposits):
    equity, im = zip(*rows, strict=True)
    series = bars(equity=equity, im=im, deposits=deposits)
    rom, last = metrics.rom(one(series)), metrics.rom_path(series).iloc[-1]
    assert (math.isnan(rom) and math.isnan(last)) or last == pytest.approx(rom, rel=1e-9, abs=1e-12)
