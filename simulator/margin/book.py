"""Book files for the what-if calculator: a TOML ``[account]`` and ``[[positions]]``, validated once.

    [account]                     wallet (USDT); optional regime, preset, as_of (valuation instant)
    [[positions]]                 symbol, qty (signed), entry, mark; optional leverage,
                                  isolated_wallet, and mmr + cum (a flat bracket override)

The tables are dataclasses checked by ``simulator.checked`` (types, finite numbers, unknown keys, dates
with their offsets); every problem is a one-line ``ConfigError`` naming the file and the key path
(``positions[1].qty``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pmsim.simulator.checked import Instant, build
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.instruments import Instrument, instrument_for
from pmsim.simulator.tomlfile import read_toml


@dataclass(frozen=True, slots=True)
class AccountTable:
    """``[account]``: the wallet (USDT), optional regime and preset, and the valuation instant."""

    wallet: float
    regime: str | None = None
    preset: str | None = None
    as_of: Instant | None = None


@dataclass(frozen=True, slots=True)
class PositionRow:
    """One ``[[positions]]`` row: prices in USDT, ``qty`` signed contracts; ``mmr`` + ``cum`` go together."""

    symbol: str
    qty: float
    entry: float
    mark: float
    leverage: float = 20.0
    isolated_wallet: float | None = None
    mmr: float | None = None
    cum: float | None = None


@dataclass(frozen=True, slots=True)
class BookFile:
    account: AccountTable
    positions: tuple[PositionRow, ...]


@dataclass(frozen=True, slots=True)
class Book:
    """One account: ``qty``, ``entry``, ``mark`` are ``[1, N]`` arrays (a batch of one book)."""

    path: Path | str  # the book file, or a name for a book given as tables
    wallet: float
    regime: str | None
    preset: str | None
    as_of: np.datetime64
    instruments: tuple[Instrument, ...]
    qty: np.ndarray
    entry: np.ndarray
    mark: np.ndarray
    leverage: np.ndarray
    isolated_wallet: np.ndarray
    overrides: dict[str, tuple[float, float]]


def load_book(path: str | Path) -> Book:
    path = Path(path)
    try:
        raw = read_toml(path, "book file")
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return book_of(raw, path)


def book_of(raw: Mapping[str, Any], source: Path | str) -> Book:
    """The book the tables ``raw`` describe; ``source`` names it (a file's path also starts every error)."""
    prefix = f"{source}: " if isinstance(source, Path) else ""
    try:
        doc = build(BookFile, raw)
        _check_ranges(doc)
    except ConfigError as exc:
        raise ConfigError(f"{prefix}{exc}") from None
    rows = doc.positions
    try:
        instruments = tuple(_instrument(p.symbol, f"positions[{i}].symbol") for i, p in enumerate(rows))
        as_of = _instant(doc.account.as_of, instruments)
    except ConfigError as exc:
        raise ConfigError(f"{prefix}{exc}") from None
    overrides = {p.symbol: (p.mmr, p.cum) for p in rows if p.mmr is not None and p.cum is not None}

    def column(values: list[float | None]) -> np.ndarray:
        return np.array([[np.nan if v is None else v for v in values]])

    return Book(
        path=source,
        wallet=doc.account.wallet,
        regime=doc.account.regime,
        preset=doc.account.preset,
        as_of=as_of,
        instruments=instruments,
        qty=column([p.qty for p in rows]),
        entry=column([p.entry for p in rows]),
        mark=column([p.mark for p in rows]),
        leverage=column([p.leverage for p in rows])[0],
        isolated_wallet=column([p.isolated_wallet for p in rows]),
        overrides=overrides,
    )


def _check_ranges(doc: BookFile) -> None:
    """What types cannot say: signs, a flat bracket given whole, one row per symbol."""
    if doc.account.wallet < 0:
        raise ConfigError(f"account.wallet: must be >= 0 (deposits less losses), got {doc.account.wallet:g}")
    if not doc.positions:
        raise ConfigError("positions: expected one or more [[positions]] tables")
    for i, p in enumerate(doc.positions):
        for key in ("entry", "mark", "leverage"):
            if getattr(p, key) <= 0:
                raise ConfigError(f"positions[{i}].{key}: must be positive, got {getattr(p, key):g}")
        if (p.mmr is None) != (p.cum is None):
            raise ConfigError(f"positions[{i}]: give both mmr and cum to override the bracket, or neither")
        if p.mmr is not None and not 0 < p.mmr < 1:
            raise ConfigError(f"positions[{i}].mmr: a rate in (0, 1) (0.004 = 0.4 %), got {p.mmr:g}")
    symbols = [p.symbol for p in doc.positions]
    twice = next((s for s in symbols if symbols.count(s) > 1), None)
    if twice is not None:
        raise ConfigError(f"positions: symbol {twice} appears twice; merge the rows")


def _instant(as_of: str | None, instruments: tuple[Instrument, ...]) -> np.datetime64:
    """``account.as_of`` in UTC; now when absent, required with dated futures (that must not have expired)."""
    dated = [i.symbol for i in instruments if i.is_dated]
    if as_of is None and dated:
        raise ConfigError(f"account.as_of is required to value dated futures ({', '.join(dated)})")
    when = np.datetime64("now", "ms") if as_of is None else np.datetime64(as_of, "ms")
    for i, instrument in enumerate(instruments):
        if instrument.expiry is not None and when > instrument.expiry:
            raise ConfigError(
                f"positions[{i}].symbol: {instrument.symbol} delivered at {instrument.expiry} UTC, "
                f"before account.as_of {when}; an expired contract cannot be held"
            )
    return when


def _instrument(symbol: str, where: str) -> Instrument:
    try:
        return instrument_for(symbol)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
