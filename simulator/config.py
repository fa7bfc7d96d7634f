"""Run configuration: frozen, typed, nested, loaded from TOML and echoed (resolved) into every run folder.

Each component has one dataclass whose type hints are its schema: ``RunConfig.from_dict`` checks every
key and value against them once, at the edge (``simulator.checked``: unknown keys, wrong types and
non-finite numbers are one-line errors naming the key path and the allowed values), and each
dataclass's ``__post_init__`` checks only its ranges.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pmsim.simulator.checked import Instant, build
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.instants import parse_instant
from pmsim.simulator.tomlfile import read_toml

DEFAULT_BARS = 8760
MAX_HISTORY_BARS = 10**8  # hourly bars for 11,000 years: a longer window is a typo, not a request
MAX_NAME = 100
SYNTHETIC_PERPETUALS = ("BTCUSDT", "ETHUSDT")  # the synthetic market's perpetuals (plus their quarterlies)


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """The market of a run: the seeded synthetic one, or real history when ``data`` names a folder.

    A run is historical exactly when ``data`` is set (``pmsim run --data DIR`` sets it; ``kind`` is
    derived and may be left out). History covers ``start`` .. ``end``, both inclusive bar open times
    (a date alone as ``end`` covers that whole day; without ``end``, ``bars`` hourly bars from
    ``start``). The synthetic market runs ``bars`` hourly bars from ``start`` and has no ``end``.
    Dates may carry a UTC offset and are stored in UTC.
    """

    kind: Literal["synthetic", "history"] | None = None
    seed: int = 7
    start: Instant = Instant("2024-01-01")
    bars: int | None = None
    end: Instant | None = None
    data: str | None = None
    symbols: tuple[str, ...] = SYNTHETIC_PERPETUALS

    def __post_init__(self) -> None:
        if self.kind == "history" and not self.data:
            raise ConfigError(
                "market.data is required when market.kind = 'history' (a cache or import folder)"
            )
        if self.kind == "synthetic" and self.data:
            raise ConfigError("market.kind = 'synthetic' contradicts market.data; leave kind out")
        object.__setattr__(self, "kind", "history" if self.data else "synthetic")
        object.__setattr__(self, "start", parse_instant(self.start, "market.start"))
        if self.end is not None:
            end = parse_instant(self.end, "market.end")
            whole_day = len(end) == len("2024-12-31")  # a date alone: up to its last hourly bar
            object.__setattr__(self, "end", f"{end}T23:00:00" if whole_day else end)
            if np.datetime64(self.end) < np.datetime64(self.start):
                raise ConfigError(f"market.end {self.end} is before market.start {self.start}")
            if np.datetime64(self.end) < np.datetime64(self.start) + np.timedelta64(1, "h"):  # as bars >= 2
                raise ConfigError(
                    f"market.end {self.end} leaves one bar after market.start {self.start}; a run needs at "
                    "least 2 (a book fills at the next bar's open)"
                )
        elif self.bars is None:
            object.__setattr__(self, "bars", DEFAULT_BARS)
        if self.bars is not None and self.bars < 2:
            raise ConfigError(f"market.bars must be at least 2, got {self.bars}")
        if self.seed < 0:
            raise ConfigError(f"market.seed must be a whole number >= 0, got {self.seed}")
        if self.data is not None and not self.data.strip():
            raise ConfigError("market.data is empty; name a cache or data folder, or leave it out")
        if not self.symbols:
            raise ConfigError("market.symbols is empty; name at least one perpetual, e.g. ['BTCUSDT']")

    def overridden(
        self, data: str | Path | None = None, start: str | None = None, end: str | None = None
    ) -> MarketConfig:
        """This market with the command's ``--data``/``--start``/``--end`` (None: kept), window resolved.

        ``data`` makes it a historical run over the config's dates; ``end`` replaces ``bars``.
        """
        changes: dict[str, object] = {}
        if data is not None:
            changes.update(data=str(data), kind=None)
        if start is not None:
            changes["start"] = start
        if end is not None:
            changes.update(end=end, bars=None)
        return dataclasses.replace(self, **changes).resolved()

    def resolved(self) -> MarketConfig:
        """This market with its window explicit: history gets ``end`` (from ``bars``) and no ``bars``.

        ``end`` belongs to history only: on the synthetic market it is refused rather than ignored.
        """
        if self.kind == "synthetic":
            if self.end is not None:
                raise ConfigError(
                    "market.end applies to history (market.data or --data); the synthetic market "
                    "runs market.bars hourly bars from market.start"
                )
            if set(self.symbols) != set(SYNTHETIC_PERPETUALS):  # refused rather than ignored, like end
                raise ConfigError(
                    f"market.symbols applies to history (market.data or --data); the synthetic market "
                    f"always lists {', '.join(SYNTHETIC_PERPETUALS)}: leave market.symbols out"
                )
            return self
        if self.end is not None:
            return dataclasses.replace(self, bars=None)
        bars = self.bars or DEFAULT_BARS
        if bars > MAX_HISTORY_BARS:
            raise ConfigError(f"market.bars = {bars} is too long a history window; give market.end instead")
        last = np.datetime64(self.start, "m") + np.timedelta64(bars - 1, "h")
        return dataclasses.replace(self, bars=None, end=Instant(str(last)))


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


RULE_KEYS = ("stop_drawdown", "stages", "rebalance_band", "buffer_floor", "mur_cap")
PerBook = float | tuple[float, ...]  # one value for every book, or one per book (a list over S)
StageLists = tuple[float | tuple[float, ...], ...]  # one stage list, or one per book (never mixed)
SLEEVE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class AllocatorConfig:
    """The allocator's rules. A rule runs only when its key is given (absent, or ``false``: off).

    They run in this order on the strategy's targets each bar:
    ``stop_drawdown`` closes a book for good after that drawdown from its equity peak;
    ``stages`` (e.g. ``[0.25, 0.5, 1.0]``) deploy that share of each target, advancing after
    ``stage_window`` calm bars (default 168) and falling back on a drawdown of ``stage_drawdown``
    (default 0.05); ``rebalance_band`` keeps positions within that fraction of their target;
    ``buffer_floor`` refuses new risk below equity / MM = floor; ``mur_cap`` caps IM / equity after the
    trade, by refusing new risk (``mur_mode = "new_risk"``, default) or by cutting the whole book back to
    the cap (``"hold_at"``). Every number may be a list with one value per book (``stages``: a list of
    stage lists), broadcast with the strategy's books.
    """

    stop_drawdown: PerBook | bool | None = None  # false: off
    stages: StageLists | bool | None = None  # false: off
    stage_window: int | tuple[int, ...] | None = None
    stage_drawdown: PerBook | None = None
    rebalance_band: PerBook | bool | None = None  # false: off
    buffer_floor: PerBook | bool | None = None  # false: off
    mur_cap: PerBook | bool | None = None  # false: off
    mur_mode: str | None = None

    def __post_init__(self) -> None:
        for name in RULE_KEYS:
            if getattr(self, name) is False:
                object.__setattr__(self, name, None)
            elif getattr(self, name) is True:
                raise ConfigError(f"allocator.{name} = true needs a value (false or absent switches it off)")
        dependent = (("stage_window", "stages"), ("stage_drawdown", "stages"), ("mur_mode", "mur_cap"))
        for name, needs in dependent:
            if getattr(self, name) is not None and getattr(self, needs) is None:
                raise ConfigError(f"allocator.{name} is given but allocator.{needs} is not (the rule is off)")
        if any(getattr(self, name) is not None for name in RULE_KEYS):
            from pmsim.simulator.build import build_allocator  # the rules check their own ranges

            build_allocator(self)


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    """What a sleeve's strategy sizes against (its view's ``equity``), per book.

    ``kind = "equity"``: ``fraction`` of the account's equity (default: all of it).
    ``kind = "free_capital"``: ``fraction`` of what the sleeves named in ``after`` leave free,
    ``equity - max(IM(after), buffer x MM(after))`` (``buffer`` defaults to ``allocator.buffer_floor``,
    else 1). ``stages`` (e.g. ``[0.25, 0.5, 1.0]``) deploy that share of it, advancing after ``window``
    bars in which the whole book stayed within ``drawdown`` of its peak and no guard fired, stepping back
    on a breach. Every number may be a list over the books; ``stages`` a list of stage lists.
    """

    kind: Literal["equity", "free_capital"] = "equity"
    fraction: PerBook = 1.0
    after: tuple[str, ...] = ()
    buffer: PerBook | None = None
    stages: StageLists | None = None
    window: int | tuple[int, ...] = 168
    drawdown: PerBook = 0.05


@dataclass(frozen=True, slots=True)
class SleeveConfig:
    """One sleeve of the account: a name (letters, digits, '_'), a strategy, its parameters, a budget."""

    name: str
    strategy: str
    params: Mapping[str, Any] = field(default_factory=dict)
    budget: BudgetConfig = field(default_factory=BudgetConfig)


def check_sleeves(sleeves: tuple[SleeveConfig, ...]) -> None:
    """Names unique and safe; ``after`` names earlier sleeves; budget numbers in range."""
    seen: list[str] = []
    for i, sleeve in enumerate(sleeves):
        where = f"sleeves[{i}]"
        if not SLEEVE_NAME.fullmatch(sleeve.name) or len(sleeve.name) > MAX_NAME:
            raise ConfigError(
                f"{where}.name {sleeve.name[:40]!r} is not a plain identifier (letters, digits, '_'; "
                "it names series columns)"
            )
        if sleeve.name in seen:
            raise ConfigError(f"{where}.name {sleeve.name!r} is used by an earlier sleeve; names must differ")
        budget = sleeve.budget
        for j, other in enumerate(budget.after):
            if other not in seen:
                raise ConfigError(
                    f"{where}.budget.after[{j}]: {other!r} is not an earlier sleeve "
                    f"(earlier: {', '.join(seen) or 'none'})"
                )
        if budget.kind == "free_capital" and not budget.after:
            raise ConfigError(f"{where}.budget.after: a free_capital budget names the sleeves it comes after")
        if budget.kind == "equity" and budget.after:
            raise ConfigError(f"{where}.budget.after applies to kind = 'free_capital' only")
        ranges = (
            ("fraction", budget.fraction, lambda v: 0 < v <= 1, "in (0, 1]"),
            ("buffer", budget.buffer if budget.buffer is not None else 1.0, lambda v: v >= 1, ">= 1"),
            ("drawdown", budget.drawdown, lambda v: 0 < v < 1, "in (0, 1)"),
            ("window", budget.window, lambda v: v >= 1, ">= 1"),
        )
        for key, value, ok, allowed in ranges:
            if not all(ok(v) for v in np.atleast_1d(np.asarray(value)).tolist()):
                raise ConfigError(f"{where}.budget.{key} must be {allowed}, got {_plain(value)}")
        if budget.stages is not None:
            from pmsim.simulator.deployment import stage_table

            stage_table(budget.stages, f"{where}.budget.stages")
        seen.append(sleeve.name)


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
        for underlying, move in self.shocks.items():
            if not -1 < move < 10 or move == 0:
                raise ConfigError(
                    f"stress.shocks.{underlying} must be a non-zero fraction in (-1, 10) "
                    f"(-0.3 is a 30 % fall), got {move}"
                )


ENGINES = ("auto", "compiled", "reference")


@dataclass(frozen=True, slots=True)
class RunConfig:
    """A whole run; ``name`` names its folder under ``runs/``, so it must be one plain path component.

    >>> import pmsim
    >>> config = pmsim.RunConfig.from_dict({"name": "hold", "strategy": {"name": "hold"}})
    >>> config.market.bars, config.regime.name
    (8760, 'cross')
    """

    name: str = "run"
    market: MarketConfig = field(default_factory=MarketConfig)
    regime: RegimeConfig = field(default_factory=RegimeConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    allocator: AllocatorConfig = field(default_factory=AllocatorConfig)
    account: AccountConfig = field(default_factory=AccountConfig)
    stress: StressConfig = field(default_factory=StressConfig)
    sleeves: tuple[SleeveConfig, ...] = ()
    engine: str = "auto"  # "auto": the compiled kernel where it covers the run; "compiled"; "reference"

    def __post_init__(self) -> None:
        check_name(self.name, "name")
        check_sleeves(self.sleeves)
        if self.engine not in ENGINES:
            raise ConfigError.unknown("engine", self.engine, ENGINES)

    def resolved_sleeves(self) -> tuple[SleeveConfig, ...]:
        """The ``[[sleeves]]``, or the one sleeve ``[strategy]`` stands for (named after its strategy)."""
        if self.sleeves:
            return self.sleeves
        return (SleeveConfig(self.strategy.name, self.strategy.name, self.strategy.params),)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain values: ``[[sleeves]]`` when given, else ``[strategy]`` (never both)."""
        out = _plain(dataclasses.asdict(self))
        out.pop("strategy" if self.sleeves else "sleeves")
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RunConfig:
        if isinstance(raw, Mapping) and raw.get("sleeves") and "strategy" in raw:
            raise ConfigError("give either [strategy] (one sleeve) or [[sleeves]], not both")
        if isinstance(raw, Mapping) and raw.get("sleeves") == []:
            raise ConfigError("sleeves is empty; give at least one [[sleeves]] table, or a [strategy]")
        return build(cls, raw)

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        raw = read_toml(path, "config")
        try:
            return cls.from_dict(raw)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc


def check_name(name: str, where: str) -> None:
    """Refuse a name that is not one plain path component (it becomes a folder name under ``runs/``)."""
    problems = (
        (not name.strip(), "is empty"),
        (name.strip() in (".", ".."), "is '.' or '..'"),
        ("/" in name or "\\" in name, "holds a path separator"),
        (any(ord(c) < 32 or ord(c) == 127 for c in name), "holds a control character"),
        (len(name) > MAX_NAME, f"is longer than {MAX_NAME} characters"),
    )
    for bad, why in problems:
        if bad:
            raise ConfigError(
                f"{where} {why} ({name[:40]!r}); it names the run folder: use letters, digits, '-', '_', '.'"
            )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
