"""``load_market`` (``--data``): validates like ``data import``, marks gap bars, settles at an index proxy."""

from __future__ import annotations

import numpy as np
import pytest
from archive_fixtures import DAY0_MS, HOUR_MS, tidy_rows, write_tidy
from pmsim.simulator.data.assemble import load_market
from pmsim.simulator.data.cache import Cache
from pmsim.simulator.data.importer import import_folder
from pmsim.simulator.errors import DataError

PERP = "binance-um/klines/1h/BTCUSDT.csv"
MARK = "binance-um/markPriceKlines/1h/BTCUSDT.csv"
SPOT = "binance-spot/klines/1h/BTCUSDT.csv"
PREMIUM = "binance-um/premiumIndexKlines/1h/BTCUSDT.csv"
QUARTERLY = "binance-um/quarterly/1h/BTCUSDT_240329.csv"
FUNDING = "binance-um/fundingRate/BTCUSDT.csv"
DELIVERY_BAR = 31  # the bar opening 2024-03-29 07:00 closes at delivery, 08:00


def _series(**drop: list[int]) -> dict[str, list[str]]:
    """40 perp bars (close 100+i), mark (100.5+i), spot (50+i), premium 0.01, 32 quarterly bars (200+i)."""
    series = {
        PERP: tidy_rows([100.0 + i for i in range(40)]),
        MARK: tidy_rows([100.5 + i for i in range(40)]),
        SPOT: tidy_rows([50.0 + i for i in range(40)]),
        PREMIUM: tidy_rows([0.01] * 40),
        QUARTERLY: tidy_rows([200.0 + i for i in range(30)], start_ms=DAY0_MS + 2 * HOUR_MS),
        FUNDING: [f"{DAY0_MS + 8 * HOUR_MS * k + 5},8,0.0001" for k in range(5)],
    }
    for name, rows in drop.items():
        path = globals()[name.upper()]
        series[path] = [r for i, r in enumerate(series[path]) if i not in rows]
    return series


def _market(tmp_path, series, **kwargs):  # noqa: ANN001, ANN202
    return load_market(write_tidy(tmp_path / "tidy", series), symbols=("BTCUSDT",), **kwargs)


def test_settlement_prefers_the_spot_close_at_delivery(tmp_path):
    market = _market(tmp_path, _series())
    q = market.column("BTCUSDT_240329")
    assert market.expiry_bar[q] == DELIVERY_BAR
    assert market.settlement[q] == 50.0 + DELIVERY_BAR  # spot close of the bar ending at delivery: 81
    assert "BTCUSDT_240329: settles at 81, the spot close at delivery 2024-03-29 08:00" in " ".join(
        market.notes
    )


def test_settlement_falls_back_to_perp_over_premium_then_to_the_mark(tmp_path):
    # spot lacks the delivery bar (an outage): perp close / (1 + premium) = 131 / 1.01 = 129.7030
    market = _market(tmp_path / "a", _series(spot=[DELIVERY_BAR]))
    q = market.column("BTCUSDT_240329")
    assert market.settlement[q] == pytest.approx(129.70297, abs=1e-5)
    assert any("the perp close / (1 + premium index close)" in n for n in market.notes)
    # no spot, no premium bar at delivery: the perp mark close, 100.5 + 31
    series = _series(spot=[DELIVERY_BAR], premium=[DELIVERY_BAR])
    market = _market(tmp_path / "b", series)
    assert market.settlement[market.column("BTCUSDT_240329")] == 131.5
    assert any("the perp mark close" in n for n in market.notes)


def test_a_bar_missing_inside_the_listed_life_is_a_gap_not_an_unlisted_bar(tmp_path):
    market = _market(tmp_path, _series(perp=[8, 9]))
    btc, q = market.column("BTCUSDT"), market.column("BTCUSDT_240329")
    assert np.flatnonzero(market.gap[:, btc]).tolist() == [8, 9]
    assert not market.listed[8:10, btc].any() and np.isnan(market.mark_close[8:10, btc]).all()
    # before listing (bars 0, 1) and after delivery (32..) the quarterly is not listed, and no gap
    assert not market.gap[:, q].any() and not market.listed[:2, q].any() and not market.listed[32:, q].any()
    # funding at 08:00 falls on the gap bar and still settles there
    assert market.funding_due[8, btc] and market.funding_rate[8, btc] == 0.0001
    assert "BTCUSDT: 2 gap bars (missing inside its listed life: 2024-03-28 08:00 .. 2024-03-28 09:00)" in (
        " ".join(market.notes)
    )
    assert market.notes[-1] == "gap bars (missing inside an instrument's listed life): 2 (BTCUSDT 2)"


def _replace_row(rows: list[str], k: int, fields: dict[int, str]) -> list[str]:
    values = rows[k].split(",")
    for position, value in fields.items():
        values[position] = value
    return [*rows[:k], ",".join(values), *rows[k + 1 :]]


PERP_ROWS = tidy_rows([100.0 + i for i in range(40)])
BAD_PERP = {
    # name: (perp rows, file row, message fragment); row 1 is the header
    "high < low": (_replace_row(PERP_ROWS, 3, {2: "90", 3: "95"}), 5, "high 90.0 < low 95.0"),
    "duplicate": ([*PERP_ROWS[:5], PERP_ROWS[4], *PERP_ROWS[5:]], 7, "duplicate bar"),
    "unordered": ([PERP_ROWS[0], PERP_ROWS[2], PERP_ROWS[1], *PERP_ROWS[3:]], 4, "unordered"),
    "NaN": (_replace_row(PERP_ROWS, 6, {4: "nan"}), 8, "close is NaN"),
    "inf": (_replace_row(PERP_ROWS, 6, {2: "inf"}), 8, "high = inf is not finite"),
    "negative": (_replace_row(PERP_ROWS, 2, {1: "-5", 3: "-6"}), 4, "non-positive price: open = -5"),
}


@pytest.mark.parametrize("case", list(BAD_PERP))
def test_data_folder_is_validated_like_import(tmp_path, case):
    rows, row, fragment = BAD_PERP[case]
    series = {**_series(), PERP: rows}
    with pytest.raises(DataError) as exc:
        _market(tmp_path, series)
    message = str(exc.value)
    assert "\n" not in message and message.startswith(f"{tmp_path / 'tidy' / PERP}, row {row}: "), message
    assert fragment in message


def test_a_cache_and_its_tidy_source_give_the_same_market(tmp_path):
    tidy = write_tidy(tmp_path / "tidy", _series(perp=[8, 9]))
    import_folder(tidy, Cache(tmp_path / "cache"))
    a = load_market(tidy, symbols=("BTCUSDT",))
    b = load_market(tmp_path / "cache", symbols=("BTCUSDT",))
    for name in ("mark_close", "listed", "gap", "funding_due", "settlement", "expiry_bar"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.notes == b.notes


def test_a_partial_cache_is_refused(tmp_path):
    tidy = write_tidy(tmp_path / "tidy", _series())
    cache = Cache(tmp_path / "cache")
    import_folder(tidy, cache)
    (cache.root / "manifest.json").unlink()
    with pytest.raises(DataError, match=r"partial cache: no manifest.json"):
        load_market(cache.root, symbols=("BTCUSDT",))


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda root: None, "no such folder"), (lambda root: root.mkdir(), "holds no data")],
    ids=["missing", "empty"],
)
def test_a_data_folder_that_is_missing_or_empty(tmp_path, make, message):
    make(tmp_path / "d")
    with pytest.raises(DataError, match=message):
        load_market(tmp_path / "d")


def test_an_unparsable_date_is_one_line(tmp_path):
    from pmsim.simulator.errors import ConfigError

    with pytest.raises(ConfigError, match=r"date '2024-13-01' is not a date"):
        load_market(write_tidy(tmp_path / "tidy", _series()), start="2024-13-01")
