"""The composition root: one place that turns a ``RunConfig`` into wired objects and a run folder.

The CLI, sweep workers and end-to-end tests all go through ``build_run``; everything below it receives
its collaborators as arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pmsim.simulator.allocator import Allocator, BufferFloor, MurCap, RebalanceBand, Rule
from pmsim.simulator.checked import build
from pmsim.simulator.config import (
    AllocatorConfig,
    MarketConfig,
    RegimeConfig,
    RunConfig,
    StrategyConfig,
    StressConfig,
)
from pmsim.simulator.deployment import DrawdownStop, StagedDeployment
from pmsim.simulator.engine.engine import Costs, ShockProbe, Simulation, simulate
from pmsim.simulator.engine.policies import LiquidationPolicy, policy_for
from pmsim.simulator.errors import ConfigError, DataError
from pmsim.simulator.margin import make_regime
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.margin.covariance import covariance_from_config
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.memory import require_memory
from pmsim.simulator.results import write_run
from pmsim.strategies import AdxTrend, BasisCarry, Hold, PairHedge, Strategy

STRATEGIES: dict[str, Callable[..., Strategy]] = {
    "adx": AdxTrend,
    "basis": BasisCarry,
    "hold": Hold,
    "pair": PairHedge,
}
QUARTER_BARS = 2190  # hourly bars per quarter: the synthetic market lists one quarterly per underlying each
Span = tuple[np.datetime64, np.datetime64]


def build_market(config: MarketConfig, n_books: int = 1) -> Market:
    """The synthetic default market, or history from a cache/import folder over the config's window.

    The synthetic market's size is known from the config, so a run that cannot fit is refused before
    it is generated; a historical window must lie inside the data (the error names the data's range).
    """
    config = config.resolved()
    if config.kind == "history":
        return _history(config)
    from pmsim.simulator.market.synthetic import generate_market

    assert config.bars is not None
    require_memory(config.bars, n_books, 2 * (4 + config.bars // QUARTER_BARS))
    return generate_market(seed=config.seed, start=config.start, bars=config.bars)


def _history(config: MarketConfig) -> Market:
    from pmsim.simulator.data.assemble import load_market

    source, window = Path(str(config.data)), (np.datetime64(config.start), np.datetime64(config.end))
    try:
        market = load_market(source, symbols=config.symbols, start=config.start, end=config.end)
    except DataError:
        covered = _data_range(config)
        if covered is None or _covers(covered, window):
            raise
        raise _outside(config, covered) from None
    if not _covers((market.times[0], market.times[-1]), window):
        raise _outside(config, _data_range(config) or (market.times[0], market.times[-1]))
    return market


def _data_range(config: MarketConfig) -> Span | None:
    """First and last bar of the perpetuals in ``config.data`` (read only when a window is refused)."""
    from pmsim.simulator.data.assemble import load_market

    try:
        full = load_market(Path(str(config.data)), symbols=config.symbols, quarterlies=False)
    except DataError:
        return None
    return full.times[0], full.times[-1]


def _covers(covered: Span, window: Span) -> bool:
    return bool(covered[0] <= window[0] and window[1] <= covered[1])


def _outside(config: MarketConfig, covered: Span) -> ConfigError:
    first, last = (str(t.astype("datetime64[m]")) for t in covered)
    return ConfigError(
        f"the window {config.start} .. {config.end} is outside the data in {config.data}, which covers "
        f"{first} .. {last} for {', '.join(config.symbols)}; choose dates inside it "
        "(market.start and market.end, or --start and --end)"
    )


def build_regime(config: RegimeConfig, market: Market) -> Regime:
    params = covariance_from_config(config.params, market)
    if config.preset is not None:
        params["preset"] = config.preset
    return make_regime(config.name, market.instruments, **params)


def build_strategy(config: StrategyConfig) -> Strategy:
    """The strategy ``config`` names, its parameters checked against the strategy class's fields."""
    if config.name not in STRATEGIES:
        raise ConfigError.unknown("strategy", config.name, STRATEGIES)
    return build(STRATEGIES[config.name], config.params, "strategy.params")


@dataclass
class Run:
    """A wired run: call ``execute`` to simulate, ``write`` to persist a run folder."""

    config: RunConfig
    market: Market
    regime: Regime
    strategy: Strategy
    allocator: Allocator

    def execute(
        self, progress: Callable[[int], None] | None = None, policy: LiquidationPolicy | None = None
    ) -> Simulation:
        """Simulate; ``policy`` replaces the regime's liquidation policy (``pmsim compare``'s observer)."""
        from threadpoolctl import threadpool_limits

        account = self.config.account
        # the per-bar matrices are small: a threaded BLAS only adds contention (measured in bench/)
        with threadpool_limits(limits=1, user_api="blas"):
            return simulate(
                self.market,
                self.regime,
                self.strategy,
                self.allocator,
                account.wallet,
                Costs(slippage=account.slippage, clearance_fee=account.clearance_fee),
                progress,
                policy or policy_for(self.regime, account.liquidation, account.liquidation_price),
                build_probe(self.config.stress, self.market),
            )

    def write(
        self,
        simulation: Simulation,
        out: str | Path,
        force: bool = False,
        extra: Callable[[Path], object] | None = None,
    ) -> Path:
        """Write the run folder (see ``results.write_run`` for ``force`` and ``extra``)."""
        from pmsim.simulator.metrics import THRESHOLDS, summarise

        market = self.market
        prices = pd.DataFrame({"time": pd.to_datetime(market.times, utc=True)})
        for k, symbol in enumerate(market.symbols):
            prices[f"mark:{symbol}"] = market.mark_close[:, k]
        summary: dict[str, Any] = {
            "name": self.config.name,
            "market": {
                "source": market.source,
                "symbols": list(market.symbols),
                "notes": [*market.notes, *simulation.notes],
                "start": str(market.times[0]),
                "end": str(market.times[-1]),
                "bars": market.n_bars,
            },
            "regime": self.regime.describe(),
            "strategy": self.strategy.describe(),
            "allocator": self.allocator.describe(),
            "thresholds": dict(THRESHOLDS),
            "labels": self.strategy.labels(),
            "configs": summarise(simulation.series, simulation.events, market.bar_seconds),
        }
        resolved = self.config.to_dict()
        resolved["resolved"] = {
            "regime": summary["regime"],
            "strategy": summary["strategy"],
            "allocator": summary["allocator"],
        }
        return write_run(
            out,
            config=resolved,
            series=simulation.series,
            prices=prices,
            events=simulation.events,
            summary=summary,
            force=force,
            extra=extra,
        )


def build_probe(config: StressConfig, market: Market) -> ShockProbe | None:
    """The stress move per instrument (each takes its underlying's move; 0 for others)."""
    unknown = sorted(set(config.shocks) - set(market.underlyings))
    if unknown:
        raise ConfigError.unknown("stress.shocks underlying", unknown[0], market.underlyings)
    if not config.every:
        return None
    direction = np.array([config.shocks.get(i.underlying, 0.0) for i in market.instruments])
    return ShockProbe(direction, config.every)


def build_allocator(config: AllocatorConfig) -> Allocator:
    """The rules the config names (only those), in order: stop, stages, band, buffer floor, MUR cap."""
    rules: list[Rule] = []
    if config.stop_drawdown is not None:
        rules.append(DrawdownStop(config.stop_drawdown))
    if config.stages is not None:
        window = 168 if config.stage_window is None else config.stage_window
        drawdown = 0.05 if config.stage_drawdown is None else config.stage_drawdown
        rules.append(StagedDeployment(tuple(config.stages), window, drawdown))
    if config.rebalance_band is not None:
        rules.append(RebalanceBand(config.rebalance_band))
    if config.buffer_floor is not None:
        rules.append(BufferFloor(config.buffer_floor))
    if config.mur_cap is not None:
        rules.append(MurCap(config.mur_cap, config.mur_mode or "new_risk"))
    return Allocator(tuple(rules))


def build_run(config: RunConfig, market: Market | None = None) -> Run:
    """Wire market, regime, strategy and allocator for ``config`` (``market`` may be shared between runs)."""
    strategy = build_strategy(config.strategy)
    market = market if market is not None else build_market(config.market, strategy.n_configs)
    require_memory(market.n_bars, strategy.n_configs, len(market.instruments))
    allocator = build_allocator(config.allocator)
    return Run(config, market, build_regime(config.regime, market), strategy, allocator)


def first_price(market: Market, symbol: str) -> float:
    """The first listed close of ``symbol`` (to size books in units of the starting wallet)."""
    col = market.column(symbol)
    listed = np.flatnonzero(market.listed[:, col])
    if listed.size == 0:
        raise ConfigError(f"{symbol} is never listed in this market")
    return float(market.close[listed[0], col])
