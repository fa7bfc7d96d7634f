"""The registry of margin regimes: names to factories, a read-only view, and ``make_regime``.

``isolated`` and ``cross`` use the venue brackets (``datasets/brackets``); ``portfolio`` (preset
``deribit`` by default; ``okx``, ``bybit``, ``cme``) and ``standard`` (preset ``deribit``) read their
cited parameters from ``datasets/margin``. ``make_regime(name, instruments, **params)`` builds one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.margin.brackets import BracketBook
from pmsim.simulator.margin.cross import CrossRegime
from pmsim.simulator.margin.isolated import IsolatedRegime
from pmsim.simulator.margin.portfolio import PortfolioRegime
from pmsim.simulator.margin.presets import load_preset
from pmsim.simulator.margin.standard import SizeRateRegime
from pmsim.simulator.market.instruments import Instrument

RegimeFactory = Callable[..., Regime]
DEFAULT_PM_PRESET = "deribit"


def _cross(instruments: tuple[Instrument, ...], **params: Any) -> Regime:
    return CrossRegime(instruments, BracketBook.load(), **params)


def _isolated(instruments: tuple[Instrument, ...], **params: Any) -> Regime:
    return IsolatedRegime(instruments, BracketBook.load(), **params)


def _portfolio(instruments: tuple[Instrument, ...], preset: str = DEFAULT_PM_PRESET, **params: Any) -> Regime:
    return PortfolioRegime(instruments, load_preset("portfolio", preset), **params)


def _standard(instruments: tuple[Instrument, ...], preset: str = "deribit", **params: Any) -> Regime:
    return SizeRateRegime(instruments, load_preset("standard", preset), **params)


_REGISTRY: dict[str, RegimeFactory] = {
    "cross": _cross,
    "isolated": _isolated,
    "portfolio": _portfolio,
    "standard": _standard,
}
REGIMES: Mapping[str, RegimeFactory] = MappingProxyType(_REGISTRY)


def _settings(cls: type, given: int) -> tuple[str, ...]:
    """The keyword settings of ``cls`` after the ``given`` leading arguments its factory supplies."""
    names = list(inspect.signature(cls).parameters)[given:]
    return tuple(n for n in names if n != "name")


# what a config may set per regime (regime.params, and regime.preset where a preset exists)
_PARAMS: dict[str, tuple[str, ...]] = {
    "cross": _settings(CrossRegime, 2),
    "isolated": _settings(IsolatedRegime, 2),
    "portfolio": ("preset", *_settings(PortfolioRegime, 2)),
    "standard": ("preset", *_settings(SizeRateRegime, 2)),
}


def make_regime(name: str | Regime, instruments: tuple[Instrument, ...], **params: Any) -> Regime:
    """Build a regime by registered name, or pass a ready instance through."""
    if not isinstance(name, str):
        return name
    if name not in _REGISTRY:
        raise ConfigError.unknown("margin regime", name, _REGISTRY)
    unknown = sorted(set(params) - set(_PARAMS[name]))
    if unknown:
        where = "regime.preset" if unknown[0] == "preset" else f"regime.params.{unknown[0]}"
        raise ConfigError.unknown(f"setting for margin regime {name!r} ({where}):", unknown[0], _PARAMS[name])
    try:
        return _REGISTRY[name](instruments, **params)
    except TypeError as exc:
        raise ConfigError(f"regime {name!r}: {exc}") from exc
