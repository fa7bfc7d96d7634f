"""Run configuration: frozen, typed, nested, loaded from TOML and echoed (resolved) into every run folder.

Each component has one dataclass; ``RunConfig.from_dict`` rejects unknown keys with the key path and
the allowed names, and each dataclass validates its own values once.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pmsim.simulator.errors import ConfigError


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """``kind = "synthetic"`` (seeded, calibrated) or ``"history"`` (``data`` names a cache or import folder)."""

    kind: str = "synthetic"
    seed: int = 7
    start: str = "2024-01-01"
    bars: int = 8760
    end: str | None = None
    data: str | None = None
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")

    def __post_init__(self) -> None:
        if self.kind not in ("synthetic", "history"):
            raise ConfigError(f"market.kind must be 'synthetic' or 'history', not {self.kind!r}")
        if self.kind == "history" and not self.data:
            raise ConfigError(
                "market.data is required when market.kind = 'history' (a cache or import folder)"
            )
        if self.bars < 2:
            raise ConfigError(f"market.bars must be at least 2, got {self.bars}")


@dataclass(frozen=True, slots=True)
class RegimeConfig:
    """A registered regime name, an optional preset, and parameter overrides (e.g. ``leverage``)."""

    name: str = "cross"
    preset: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    """``name`` is ``adx`` or ``hold``; ``params`` are its parameters (lists give one book each)."""

    name: str = "adx"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AllocatorConfig:
    """The allocator's rules, applied in this order to the strategy's targets each bar.

    ``stop_drawdown`` (None: off) closes a book for good after that drawdown from its peak;
    ``stages`` deploy that share of each target, advancing after ``stage_window`` calm bars (drawdown
    below ``stage_drawdown``) and falling back on a drawdown (``[1.0]``: everything at once);
    ``rebalance_band`` keeps positions within that fraction of their target; ``buffer_floor`` refuses new
    risk below equity / MM = floor; ``mur_cap`` caps IM / equity after the trade.
    """

    mur_cap: float = 0.7
    rebalance_band: float = 0.1
    buffer_floor: float = 1.2
    stages: tuple[float, ...] = (1.0,)
    stage_window: int = 168
    stage_drawdown: float = 0.05
    stop_drawdown: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.mur_cap <= 1:
            raise ConfigError(f"allocator.mur_cap must be in (0, 1], got {self.mur_cap}")
        if not 0 <= self.rebalance_band < 1:
            raise ConfigError(f"allocator.rebalance_band must be in [0, 1), got {self.rebalance_band}")


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """Starting wallet (USDT), frictions (slippage, clearance fee: fractions) and the liquidation mode.

    ``liquidation = "partial"`` reduces a breaching account first (cross: a tier at a time; portfolio:
    the whole book pro rata until IM is restored); ``"full"`` closes it. Isolated positions close in full.
    ``liquidation_price = "threshold"`` fills a liquidation where equity met MM on the way from the bar's
    open to its adverse extreme (at the open if the bar gapped through); ``"extreme"`` at the extreme.
    """

    wallet: float = 100_000.0
    slippage: float = 0.0001
    clearance_fee: float = 0.005
    liquidation: str = "full"
    liquidation_price: str = "threshold"

    def __post_init__(self) -> None:
        if not self.wallet > 0:
            raise ConfigError(f"account.wallet must be positive, got {self.wallet}")
        if not 0 <= self.slippage < 0.1 or not 0 <= self.clearance_fee < 0.5:
            raise ConfigError("account.slippage must be in [0, 0.1) and account.clearance_fee in [0, 0.5)")
        if self.liquidation not in ("full", "partial"):
            raise ConfigError(f"account.liquidation must be 'full' or 'partial', not {self.liquidation!r}")
        if self.liquidation_price not in ("threshold", "extreme"):
            raise ConfigError(
                f"account.liquidation_price must be 'threshold' or 'extreme', not {self.liquidation_price!r}"
            )


@dataclass(frozen=True, slots=True)
class StressConfig:
    """The joint adverse move whose distance to liquidation is recorded every ``every`` bars (0: never).

    ``shocks`` maps underlyings to relative moves; the recorded distance is the smallest multiple of
    that move (1.0 = the full shock) that would liquidate the book at the bar's close.
    """

    shocks: Mapping[str, float] = field(default_factory=lambda: {"BTC": -0.30, "ETH": -0.35})
    every: int = 24

    def __post_init__(self) -> None:
        if self.every < 0:
            raise ConfigError(f"stress.every must be >= 0 (0 turns the probe off), got {self.every}")
        if any(not -1 < move < 10 or move == 0 for move in self.shocks.values()):
            raise ConfigError(
                f"stress.shocks moves must be non-zero and above -100%, got {dict(self.shocks)}"
            )


@dataclass(frozen=True, slots=True)
class RunConfig:
    name: str = "run"
    market: MarketConfig = field(default_factory=MarketConfig)
    regime: RegimeConfig = field(default_factory=RegimeConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    allocator: AllocatorConfig = field(default_factory=AllocatorConfig)
    account: AccountConfig = field(default_factory=AccountConfig)
    stress: StressConfig = field(default_factory=StressConfig)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RunConfig:
        return _build(cls, raw, "")

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        return cls.from_dict(raw)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _build(cls: type, raw: Mapping[str, Any], path: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path or 'config'} must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(fields)
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError.unknown(f"key in [{path.rstrip('.') or 'top level'}]:", key, fields)
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        nested = _NESTED.get((cls, name))
        if nested is not None:
            kwargs[name] = _build(nested, value, f"{path}{name}.")
        elif name in ("symbols", "stages"):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{path or 'config'}: {exc}") from exc


_NESTED: dict[tuple[type, str], type] = {
    (RunConfig, "market"): MarketConfig,
    (RunConfig, "regime"): RegimeConfig,
    (RunConfig, "strategy"): StrategyConfig,
    (RunConfig, "allocator"): AllocatorConfig,
    (RunConfig, "account"): AccountConfig,
    (RunConfig, "stress"): StressConfig,
}
