"""Binance public-data archive layout: venues, data types, symbols, file paths and URLs.

Pure naming: nothing here touches the network or the disk. Paths follow
``data/{market}/{period}/{data_type}/{SYMBOL}/{interval}/{SYMBOL}-{interval}-{date}.zip``
(``fundingRate`` has no interval level and is monthly only). Quarterly symbols are generated
from the delivery calendar because expired contracts vanish from the exchange's listings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.instruments import dated_symbol, quarterly_deliveries

Venue = Literal["um", "cm", "spot"]
Period = Literal["monthly", "daily"]

VENUES: dict[str, str] = {"um": "futures/um", "cm": "futures/cm", "spot": "spot"}
KLINE_TYPES = ("klines", "markPriceKlines", "indexPriceKlines", "premiumIndexKlines")
EVENT_TYPES = ("fundingRate",)
DATA_TYPES = KLINE_TYPES + EVENT_TYPES
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
DEFAULT_BASE_URL = "https://data.binance.vision/"

# First quarterly deliveries in the archive (data-sources.md section 4.1).
FIRST_DELIVERY = {
    "um": np.datetime64("2021-03-26T08:00", "ms"),
    "cm": np.datetime64("2020-09-25T08:00", "ms"),
}
QUARTERLY_LIFE_DAYS = 190  # a quarterly lists about two quarters before its delivery

_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}(_(PERP|\d{6}))?$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


def venue_dir(venue: str) -> str:
    """Folder name of a venue in the tidy layout and in the cache: ``binance-um``."""
    check_choice("venue", venue, VENUES)
    return f"binance-{venue}"


def check_choice(what: str, name: str, options: object) -> str:
    """Return ``name`` if it is one of ``options``, else raise an 'unknown ...' ConfigError."""
    if name not in options:  # type: ignore[operator]
        raise ConfigError.unknown(what, name, list(options))  # type: ignore[call-overload]
    return name


def check_symbol(symbol: str) -> str:
    """Archive symbols are upper-case letters and digits, optionally ``_PERP`` or ``_YYMMDD``."""
    if not _SYMBOL.match(symbol):
        raise ConfigError(f"unknown symbol {symbol!r}: expected e.g. BTCUSDT, BTCUSDT_240628 or BTCUSD_PERP")
    return symbol


def interval_ms(interval: str) -> int:
    """Length of a bar interval in ms (``1h`` -> 3 600 000)."""
    check_choice("interval", interval, INTERVALS)
    unit = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}[interval[-1]]
    return int(interval[:-1]) * unit


def months(start: str, end: str) -> list[str]:
    """Months ``YYYY-MM`` from ``start`` to ``end`` inclusive."""
    first, last = _month(start, "--start"), _month(end, "--end")
    if last < first:
        raise ConfigError(f"--end {end} is before --start {start}")
    return [str(m) for m in np.arange(first, last + 1)]


def _month(value: str, flag: str) -> np.datetime64:
    """A ``YYYY-MM`` month (``2024-13`` and ``2024-1`` are refused)."""
    if _MONTH.match(value) and 1 <= int(value[5:]) <= 12:
        return np.datetime64(value, "M")
    raise ConfigError(f"{flag} {value!r} is not a month YYYY-MM such as 2024-03")


def days_of(month: str) -> list[str]:
    """Days ``YYYY-MM-DD`` of a month."""
    first = np.datetime64(month, "M")
    return [str(d) for d in np.arange(first.astype("datetime64[D]"), (first + 1).astype("datetime64[D]"))]


def quarterly_symbols(pair: str, start: str, end: str, venue: Venue = "um") -> list[str]:
    """Quarterly contracts of ``pair`` alive at some point in months ``start``..``end``."""
    lo = max(np.datetime64(start, "M").astype("datetime64[ms]"), FIRST_DELIVERY[venue])
    hi = (np.datetime64(end, "M") + 1).astype("datetime64[ms]") + np.timedelta64(QUARTERLY_LIFE_DAYS, "D")
    first_live = np.datetime64(start, "M").astype("datetime64[ms]")
    deliveries = [d for d in quarterly_deliveries(lo, hi) if d >= first_live]
    return [dated_symbol(pair, d) for d in deliveries]


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """One archive zip: e.g. monthly 1h klines of BTCUSDT for 2020-01."""

    venue: Venue
    period: Period
    data_type: str
    symbol: str
    interval: str | None
    date: str

    @property
    def name(self) -> str:
        middle = self.interval if self.data_type in KLINE_TYPES else self.data_type
        return f"{self.symbol}-{middle}-{self.date}.zip"

    @property
    def path(self) -> str:
        """Path below the base URL (also the path below the local raw cache)."""
        parts = ["data", VENUES[self.venue], self.period, self.data_type, self.symbol]
        if self.data_type in KLINE_TYPES:
            parts.append(str(self.interval))
        return "/".join([*parts, self.name])

    def daily(self) -> list[ArchiveFile]:
        """The daily files that replace a missing monthly kline file (funding has none)."""
        if self.period != "monthly" or self.data_type not in KLINE_TYPES:
            return []
        return [
            ArchiveFile(self.venue, "daily", self.data_type, self.symbol, self.interval, d)
            for d in days_of(self.date)
        ]


def monthly_files(
    venue: Venue, data_type: str, symbol: str, interval: str, start: str, end: str
) -> list[ArchiveFile]:
    """Monthly archive files of one series over ``start``..``end`` (``YYYY-MM``)."""
    check_choice("data type", data_type, DATA_TYPES)
    check_symbol(symbol)
    interval_ms(interval)
    key = symbol
    if data_type == "indexPriceKlines":  # keyed by pair: BTCUSDT (um), BTCUSD (cm)
        key = symbol.split("_")[0]
    kline_interval = interval if data_type in KLINE_TYPES else None
    return [ArchiveFile(venue, "monthly", data_type, key, kline_interval, m) for m in months(start, end)]
