"""Book files for the what-if calculator: a TOML ``[account]`` and ``[[positions]]``, validated once.

    [account]                     wallet (USDT); optional regime, preset, as_of (valuation instant)
    [[positions]]                 symbol, qty (signed), entry, mark; optional leverage,
                                  isolated_wallet, and mmr + cum (a flat bracket override)

Every problem is a one-line ``ConfigError`` naming the key path (``positions[1].qty``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.instants import parse_instant
from pmsim.simulator.market.instruments import Instrument, instrument_for
from pmsim.simulator.tomlfile import read_toml

ACCOUNT_KEYS = {"wallet": True, "regime": False, "preset": False, "as_of": False}
POSITION_KEYS = {
    "symbol": True,
    "qty": True,
    "entry": True,
    "mark": True,
    "leverage": False,
    "isolated_wallet": False,
    "mmr": False,
    "cum": False,
}


@dataclass(frozen=True, slots=True)
class Book:
    """One account: ``qty``, ``entry``, ``mark`` are ``[1, N]`` arrays (a batch of one book)."""

    path: Path
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
    doc = read_toml(path, "book file")
    _keys(doc, {"account": True, "positions": True}, "", path)
    account = _keys(doc["account"], ACCOUNT_KEYS, "account", path)
    rows = doc["positions"]
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{path}: positions: expected one or more [[positions]] tables")
    positions = [_keys(row, POSITION_KEYS, f"positions[{i}]", path) for i, row in enumerate(rows)]
    instruments = tuple(
        _instrument(p["symbol"], f"positions[{i}].symbol", path) for i, p in enumerate(positions)
    )
    symbols = [i.symbol for i in instruments]
    if len(set(symbols)) != len(symbols):
        raise ConfigError(f"{path}: positions: symbol {_duplicate(symbols)} appears twice; merge the rows")

    def column(key: str, default: float, positive: bool = False) -> np.ndarray:
        return np.array(
            [
                [
                    _number(p, key, f"positions[{i}].{key}", path, default, positive)
                    for i, p in enumerate(positions)
                ]
            ]
        )

    overrides = {}
    for i, p in enumerate(positions):
        if ("mmr" in p) != ("cum" in p):
            raise ConfigError(
                f"{path}: positions[{i}]: give both mmr and cum to override the bracket, or neither"
            )
        if "mmr" in p:
            mmr = _number(p, "mmr", f"positions[{i}].mmr", path, 0.0, True)
            if mmr >= 1:
                raise ConfigError(f"{path}: positions[{i}].mmr: a rate below 1 (0.004 = 0.4 %), got {mmr:g}")
            overrides[p["symbol"]] = (
                mmr,
                _number(p, "cum", f"positions[{i}].cum", path, 0.0),
            )
    dated = [i.symbol for i in instruments if i.is_dated]
    if "as_of" not in account and dated:
        raise ConfigError(f"{path}: account.as_of is required to value dated futures ({', '.join(dated)})")
    as_of = _instant(account.get("as_of"), path)
    for i, instrument in enumerate(instruments):
        if instrument.expiry is not None and as_of > instrument.expiry:
            raise ConfigError(
                f"{path}: positions[{i}].symbol: {instrument.symbol} delivered at {instrument.expiry} "
                f"UTC, before account.as_of {as_of}; an expired contract cannot be held"
            )
    wallet = _number(account, "wallet", "account.wallet", path, 0.0)
    if wallet < 0:
        raise ConfigError(f"{path}: account.wallet: must be >= 0 (deposits less losses), got {wallet:g}")
    return Book(
        path=path,
        wallet=wallet,
        regime=_text(account, "regime", path),
        preset=_text(account, "preset", path),
        as_of=as_of,
        instruments=instruments,
        qty=column("qty", 0.0),
        entry=column("entry", 0.0, True),
        mark=column("mark", 0.0, True),
        leverage=column("leverage", 20.0, True)[0],
        isolated_wallet=column("isolated_wallet", np.nan),
        overrides=overrides,
    )


def _keys(table: Any, allowed: dict[str, bool], where: str, path: Path) -> dict[str, Any]:
    name = where or "the top level"
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {name}: expected a table")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"{path}: {_join(where, unknown[0])}: unknown key (allowed: {', '.join(allowed)})")
    missing = [k for k, required in allowed.items() if required and k not in table]
    if missing:
        raise ConfigError(f"{path}: {_join(where, missing[0])}: required key is missing")
    return table


def _number(table: dict, key: str, where: str, path: Path, default: float, positive: bool = False) -> float:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise ConfigError(f"{path}: {where}: expected a number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{path}: {where}: must be positive, got {value!r}")
    return float(value)


def _text(table: dict, key: str, path: Path) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}: account.{key}: expected a string, got {value!r}")
    return value


def _instant(value: Any, path: Path) -> np.datetime64:
    """``account.as_of`` in UTC (an offset is applied, not dropped); now when absent."""
    if value is None:
        return np.datetime64("now", "ms")
    try:
        return np.datetime64(parse_instant(value, "account.as_of"), "ms")
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _instrument(symbol: Any, where: str, path: Path) -> Instrument:
    if not isinstance(symbol, str):
        raise ConfigError(f"{path}: {where}: expected a symbol string, got {symbol!r}")
    try:
        return instrument_for(symbol)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {where}: {exc}") from exc


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _duplicate(symbols: list[str]) -> str:
    return next(s for s in symbols if symbols.count(s) > 1)
