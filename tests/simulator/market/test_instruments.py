"""The quarterly calendar against Binance's real delivery dates, and symbol parsing errors."""

import numpy as np
import pytest
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.instruments import dated_symbol, last_friday, parse_symbol, quarterly_deliveries

# Binance USDⓈ-M quarterly deliveries (shared/data/binance-um/quarterly/contracts.csv and exchangeInfo)
KNOWN_DELIVERIES = ["2023-09-29", "2024-03-29", "2024-06-28", "2024-09-27", "2024-12-27", "2025-03-28"]


@pytest.mark.parametrize("day", KNOWN_DELIVERIES)
def test_last_friday_matches_binance_delivery(day: str) -> None:
    year, month, dom = (int(x) for x in day.split("-"))
    assert last_friday(year, month) == dom


def test_quarterly_deliveries_are_0800_utc_on_binance_dates() -> None:
    got = quarterly_deliveries(np.datetime64("2023-07-01"), np.datetime64("2025-04-01"))
    expected = [
        np.datetime64(f"{d}T08:00", "ms") for d in ["2023-09-29", "2023-12-29", *KNOWN_DELIVERIES[1:]]
    ]
    assert got == expected


def test_quarterly_deliveries_bounds_are_inclusive() -> None:
    instant = np.datetime64("2024-06-28T08:00", "ms")
    assert quarterly_deliveries(instant, instant) == [instant]
    assert quarterly_deliveries(instant + np.timedelta64(1, "ms"), instant + np.timedelta64(1, "D")) == []


def test_dated_symbol_round_trips_through_parse_symbol() -> None:
    delivery = np.datetime64("2024-09-27T08:00", "ms")
    symbol = dated_symbol("ETHUSDT", delivery)
    assert symbol == "ETHUSDT_240927"
    assert parse_symbol(symbol) == ("ETHUSDT", "ETH", delivery)
    assert parse_symbol("BTCUSDT") == ("BTCUSDT", "BTC", None)


@pytest.mark.parametrize("symbol", ["BTC", "btcusdt", "USDT", "BTCUSDT_241399", "BTC-USDT", "BTCEUR", ""])
def test_parse_symbol_rejects_unknown_symbols(symbol: str) -> None:
    with pytest.raises(ConfigError, match="unknown symbol"):
        parse_symbol(symbol)
