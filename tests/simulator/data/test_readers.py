"""Readers on hand-made archive files: header or not, ms or µs, zip or CSV, COIN-M columns, funding."""

from __future__ import annotations

import numpy as np
import pytest
from archive_fixtures import ARCHIVE_HEADER, HOUR_MS, T0_MS, kline_rows, write_csv, write_zip
from pmsim.simulator.data.readers import read_bars, read_funding


@pytest.mark.parametrize("header", [ARCHIVE_HEADER, None], ids=["headered", "headerless"])
@pytest.mark.parametrize("micro", [False, True], ids=["ms", "us"])
@pytest.mark.parametrize("container", ["csv", "zip"])
def test_archive_klines(tmp_path, header, micro, container):
    rows = kline_rows(3, micro=micro)
    path = tmp_path / f"BTCUSDT-1h-2020-01.{container}"
    (write_csv if container == "csv" else write_zip)(path, rows, header)
    frame = read_bars(path)
    assert frame["open_time"].tolist() == [T0_MS, T0_MS + HOUR_MS, T0_MS + 2 * HOUR_MS]
    assert frame[["open", "high", "low", "close", "volume"]].iloc[1].tolist() == [101, 103, 100, 102, 11]
    assert frame.attrs["line0"] == (2 if header else 1)


def test_coin_m_volume_is_mapped_by_position(tmp_path):
    # COIN-M: column 5 counts contracts; column 7 (headed "quote_volume") is the base-asset volume.
    path = write_csv(tmp_path / "BTCUSD_PERP-1h-2020-01.csv", kline_rows(2))
    assert read_bars(path, venue="cm")["volume"].tolist() == [1000, 1001]
    assert read_bars(path, venue="um")["volume"].tolist() == [10, 11]


def test_tidy_klines_by_header_name(tmp_path):
    path = tmp_path / "BTCUSDT.csv"
    path.write_text(f"open_time,open,high,low,close\n{T0_MS},1,2,0.5,1.5\n{T0_MS + HOUR_MS},1.5,2,1,1.2\n")
    frame = read_bars(path)
    assert frame["close"].tolist() == [1.5, 1.2] and frame["volume"].tolist() == [0, 0]


def test_funding_floors_calc_time_jitter_to_the_hour(tmp_path):
    path = tmp_path / "BTCUSDT-fundingRate-2023-06.csv"
    path.write_text(
        "calc_time,funding_interval_hours,last_funding_rate\n"
        "1685577600008,8,0.00010000\n1685606400011,8,-0.00002500\n"
    )
    frame = read_funding(path)
    assert frame["funding_time"].tolist() == [1685577600000, 1685606400000]
    np.testing.assert_array_equal(frame["funding_rate"], [0.0001, -0.000025])


def test_funding_headerless_zip_and_cm_layout(tmp_path):
    zipped = write_zip(tmp_path / "BTCUSDT-fundingRate-2020-01.zip", ["1577836800000,8,0.0001"])
    assert read_funding(zipped)["funding_rate"].tolist() == [0.0001]
    cm = tmp_path / "BTCUSD_PERP.csv"
    cm.write_text("funding_time,funding_rate\n1609459200022,0.00007523\n")
    assert read_funding(cm)["funding_time"].tolist() == [1609459200000]


def test_real_archive_funding_samples(real_data):
    frame = read_funding(real_data / "binance-um/fundingRate/archive-samples/ETHUSDT-fundingRate-2022-06.csv")
    assert len(frame) == 90 and (frame["funding_time"] % HOUR_MS == 0).all()
