"""Every kind of bad input stops with one line naming the file and (where there is one) the row."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_fixtures import ARCHIVE_HEADER, HOUR_MS, T0_MS, kline_rows, write_csv, write_zip
from pmsim.simulator.data.cache import Cache
from pmsim.simulator.data.importer import import_folder
from pmsim.simulator.data.readers import read_bars, read_funding
from pmsim.simulator.data.validate import check_bars, check_series
from pmsim.simulator.errors import DataError

NAME = "BTCUSDT-1h-2020-01.csv"


def _check(path: Path, listing_ms: int | None = None) -> None:
    check_bars(read_bars(path), HOUR_MS, listing_ms=listing_ms)


def _bad(rows: list[str], k: int, row: str) -> list[str]:
    rows = list(rows)
    rows[k] = row
    return rows


ROWS = kline_rows(5)
FIELDS = ROWS[2].split(",")
CASES = {
    # name: (rows written after the header, expected file row, message fragment)
    "corrupt csv": (_bad(ROWS, 2, ROWS[2].replace(",102,", ",1O2,")), 4, "not a number"),
    "wrong column count": (_bad(ROWS, 3, ROWS[3] + ",7"), 5, "has 13 fields, expected 12"),
    "header in the wrong place": (_bad(ROWS, 2, ARCHIVE_HEADER), 4, "header or text row"),
    "duplicate bars": (_bad(ROWS, 3, ROWS[2]), 5, "duplicate bar"),
    "unordered bars": ([ROWS[0], ROWS[2], ROWS[1], ROWS[3]], 4, "unordered"),
    "NaN": (_bad(ROWS, 1, ROWS[1].replace(",101,", ",nan,", 1)), 3, "is NaN"),
    "high < low": (
        _bad(ROWS, 2, ",".join([FIELDS[0], "102", "95", "99", "101", *FIELDS[5:]])),
        4,
        "high 95.0 < low 99.0",
    ),
    "non-positive price": (
        _bad(ROWS, 4, ROWS[4].replace(",104,", ",0,", 1)),
        6,
        "non-positive price: open = 0",
    ),
    "timestamp in the future": (kline_rows(2, start_ms=4_102_444_800_000), 2, "in the future"),
}


def _one_line(exc: pytest.ExceptionInfo[DataError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("case", list(CASES))
def test_bad_rows_name_file_and_row(tmp_path, case):
    rows, row, fragment = CASES[case]
    path = write_csv(tmp_path / NAME, rows)
    with pytest.raises(DataError) as exc:
        _check(path)
    message = _one_line(exc)
    assert message.startswith(f"{path}, row {row}: "), message
    assert fragment in message


def test_before_listing(tmp_path):
    path = write_csv(tmp_path / NAME, kline_rows(3))
    with pytest.raises(DataError, match=rf"{NAME}, row 2: .*before the contract was listed"):
        _check(path, listing_ms=T0_MS + HOUR_MS)


def test_gaps_are_reported_not_filled(tmp_path):
    rows = kline_rows(6)
    path = write_csv(tmp_path / NAME, rows[:2] + rows[4:])
    report = check_bars(read_bars(path), HOUR_MS)
    assert report.rows == 4 and [(g.after_ms, g.missing) for g in report.gaps] == [(T0_MS + HOUR_MS, 2)]
    assert str(report.gaps[0]) == "2020-01-01T01:00+2"


def test_truncated_zip(tmp_path):
    path = write_zip(tmp_path / "BTCUSDT-1h-2020-01.zip", kline_rows(200))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"BTCUSDT-1h-2020-01.zip: truncated or corrupt zip") as exc:
        read_bars(path)
    _one_line(exc)


def test_zip_member_escaping_the_folder_is_refused(tmp_path):
    path = write_zip(tmp_path / "x.zip", kline_rows(2), member="../../evil.csv")
    with pytest.raises(DataError, match=r"absolute or '\.\.' path"):
        read_bars(path)


def test_bad_funding_rate(tmp_path):
    path = tmp_path / "BTCUSDT.csv"
    path.write_text(
        "calc_time,funding_interval_hours,last_funding_rate\n1577836800000,8,0.0001\n1577865600000,8,0.9\n"
    )
    with pytest.raises(DataError, match=r"BTCUSDT.csv, row 3: funding_rate 0.9 is beyond"):
        check_series("fundingRate", "", read_funding(path))


def _tidy(root: Path, rows: list[str], name: str = "BTCUSDT", folder: str = "klines") -> Path:
    target = root / "binance-um" / folder / "1h"
    target.mkdir(parents=True)
    write_csv(target / f"{name}.csv", rows)
    return root


def test_unknown_symbol_and_data_type_in_a_tidy_folder(tmp_path):
    with pytest.raises(DataError, match=r"btc-usdt.csv: unknown symbol 'btc-usdt'"):
        import_folder(_tidy(tmp_path / "a", kline_rows(2), name="btc-usdt"), Cache(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"fooKlines: unknown data type 'fooKlines'"):
        import_folder(_tidy(tmp_path / "b", kline_rows(2), folder="fooKlines"), Cache(tmp_path / "cache"))


def test_a_failed_import_writes_nothing(tmp_path):
    source = _tidy(tmp_path / "src", kline_rows(3))
    write_csv(
        source / "binance-um" / "klines" / "1h" / "ETHUSDT.csv", _bad(kline_rows(3), 2, kline_rows(3)[1])
    )
    cache = Cache(tmp_path / "cache")
    with pytest.raises(DataError, match=r"ETHUSDT.csv, row 4: duplicate bar"):
        import_folder(source, cache)
    assert not (tmp_path / "cache").exists() or not any(p.is_file() for p in (tmp_path / "cache").rglob("*"))
