"""Instruments and the quarterly delivery calendar.

An instrument is one tradable contract: a perpetual or a dated future on an underlying. Binance
USDⓈ-M quarterlies deliver at 08:00 UTC on the last Friday of March, June, September and
December, and are named ``{PAIR}_{YYMMDD}`` (e.g. ``BTCUSDT_240628``).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pmsim.simulator.errors import ConfigError

Kind = Literal["perpetual", "dated"]

DELIVERY_HOUR_UTC = 8
QUARTER_MONTHS = (3, 6, 9, 12)
_DATED_SYMBOL = re.compile(r"^(?P<pair>[A-Z]+)_(?P<date>\d{6})$")
_QUOTES = ("USDT", "USDC", "USD")


@dataclass(frozen=True, slots=True)
class Instrument:
    """One contract. ``expiry`` is the delivery instant (numpy datetime64[ms]) for dated futures."""

    symbol: str
    underlying: str
    kind: Kind
    expiry: np.datetime64 | None = None
    taker_fee: float = 0.0005
    maker_fee: float = 0.0002

    def __post_init__(self) -> None:
        if self.kind not in ("perpetual", "dated"):
            raise ConfigError(
                f"instrument {self.symbol}: kind must be 'perpetual' or 'dated', not {self.kind!r}"
            )
        if (self.kind == "dated") != (self.expiry is not None):
            raise ConfigError(f"instrument {self.symbol}: a dated future needs an expiry, a perpetual none")

    @property
    def is_dated(self) -> bool:
        return self.kind == "dated"


def last_friday(year: int, month: int) -> int:
    """Day of the month of the last Friday."""
    last_day = calendar.monthrange(year, month)[1]
    weekday = calendar.weekday(year, month, last_day)  # Monday = 0, Friday = 4
    return last_day - (weekday - calendar.FRIDAY) % 7


def quarterly_deliveries(start: np.datetime64, end: np.datetime64) -> list[np.datetime64]:
    """Delivery instants (08:00 UTC, last Friday of a quarter month) in ``[start, end]``."""
    start_ms, end_ms = np.datetime64(start, "ms"), np.datetime64(end, "ms")
    first_year = int(str(start_ms)[:4])
    last_year = int(str(end_ms)[:4])
    out = []
    for year in range(first_year, last_year + 1):
        for month in QUARTER_MONTHS:
            day = last_friday(year, month)
            instant = np.datetime64(f"{year:04d}-{month:02d}-{day:02d}T{DELIVERY_HOUR_UTC:02d}:00", "ms")
            if start_ms <= instant <= end_ms:
                out.append(instant)
    return out


def dated_symbol(pair: str, delivery: np.datetime64) -> str:
    """``BTCUSDT`` + 2024-06-28T08:00 -> ``BTCUSDT_240628``."""
    day = str(np.datetime64(delivery, "D"))
    return f"{pair}_{day[2:4]}{day[5:7]}{day[8:10]}"


def parse_symbol(symbol: str) -> tuple[str, str, np.datetime64 | None]:
    """Split a Binance USDⓈ-M symbol into (pair, underlying, delivery or None).

    >>> parse_symbol("ETHUSDT_250328")[1:]
    ('ETH', numpy.datetime64('2025-03-28T08:00:00.000'))
    """
    match = _DATED_SYMBOL.match(symbol)
    pair = match.group("pair") if match else symbol
    underlying = next((pair[: -len(q)] for q in _QUOTES if pair.endswith(q) and len(pair) > len(q)), None)
    if underlying is None or not pair.isalpha() or not pair.isupper():
        raise ConfigError(
            f"unknown symbol {symbol!r}: expected a pair such as BTCUSDT or a quarterly such as BTCUSDT_240628"
        )
    if not match:
        return pair, underlying, None
    yymmdd = match.group("date")
    try:
        delivery = np.datetime64(
            f"20{yymmdd[:2]}-{yymmdd[2:4]}-{yymmdd[4:]}T{DELIVERY_HOUR_UTC:02d}:00", "ms"
        )
    except ValueError as exc:
        raise ConfigError(f"unknown symbol {symbol!r}: {yymmdd} is not a date (YYMMDD)") from exc
    return pair, underlying, delivery


def instrument_for(symbol: str, taker_fee: float = 0.0005, maker_fee: float = 0.0002) -> Instrument:
    """Build the instrument a Binance USDⓈ-M symbol names."""
    _, underlying, delivery = parse_symbol(symbol)
    kind: Kind = "perpetual" if delivery is None else "dated"
    return Instrument(symbol, underlying, kind, delivery, taker_fee, maker_fee)
