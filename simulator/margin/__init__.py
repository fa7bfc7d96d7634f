"""Margin regimes, found by name through a read-only registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from simulator.errors import ConfigError
from simulator.margin.base import Regime, Requirements
from simulator.margin.brackets import BracketBook
from simulator.margin.cross import CrossRegime
from simulator.market.instruments import Instrument

RegimeFactory = Callable[..., Regime]


def _cross(instruments: tuple[Instrument, ...], **params: Any) -> Regime:
    return CrossRegime(instruments, BracketBook.load(), **params)


_REGISTRY: dict[str, RegimeFactory] = {"cross": _cross}
REGIMES: Mapping[str, RegimeFactory] = MappingProxyType(_REGISTRY)


def make_regime(name: str | Regime, instruments: tuple[Instrument, ...], **params: Any) -> Regime:
    """Build a regime by registered name, or pass a ready instance through."""
    if not isinstance(name, str):
        return name
    if name not in _REGISTRY:
        raise ConfigError.unknown("margin regime", name, _REGISTRY)
    try:
        return _REGISTRY[name](instruments, **params)
    except TypeError as exc:
        raise ConfigError(f"regime {name!r}: {exc}") from exc


__all__ = ["REGIMES", "BracketBook", "CrossRegime", "Regime", "Requirements", "make_regime"]
