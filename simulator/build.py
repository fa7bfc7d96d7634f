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
from pmsim.simulator.engine.policies import policy_for
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin import make_regime
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.results import write_run
from pmsim.strategies import AdxTrend, Hold, Strategy

STRATEGIES: dict[str, Callable[..., Strategy]] = {"adx": AdxTrend, "hold": Hold}


def build_market(config: MarketConfig) -> Market:
    """The synthetic default market, or history from a cache/import folder."""
    if config.kind == "history":
        from pmsim.simulator.data.assemble import load_market

        return load_market(Path(str(config.data)), symbols=config.symbols, start=config.start, end=config.end)
    from pmsim.simulator.market.synthetic import generate_market

    return generate_market(seed=config.seed, start=config.start, bars=config.bars)


def build_regime(config: RegimeConfig, market: Market) -> Regime:
    params = dict(config.params)
    if config.preset is not None:
        params["preset"] = config.preset
    return make_regime(config.name, market.instruments, **params)


def build_strategy(config: StrategyConfig) -> Strategy:
    if config.name not in STRATEGIES:
        raise ConfigError.unknown("strategy", config.name, STRATEGIES)
    try:
        return STRATEGIES[config.name](**config.params)
    except TypeError as exc:
        raise ConfigError(f"strategy {config.name!r}: {exc}") from exc


@dataclass
class Run:
    """A wired run: call ``execute`` to simulate, ``write`` to persist a run folder."""

    config: RunConfig
    market: Market
    regime: Regime
    strategy: Strategy
    allocator: Allocator

    def execute(self, progress: Callable[[int], None] | None = None) -> Simulation:
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
                policy_for(self.regime, account.liquidation, account.liquidation_price),
                build_probe(self.config.stress, self.market),
            )

    def write(self, simulation: Simulation, out: str | Path) -> Path:
        from pmsim.simulator.metrics import summarise

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
            "labels": self.strategy.labels(),
            "configs": summarise(simulation.series, simulation.events, market.bar_seconds),
        }
        resolved = self.config.to_dict()
        resolved["resolved"] = {
            "regime": summary["regime"],
            "strategy": summary["strategy"],
            "allocator": self.allocator.describe(),
        }
        return write_run(
            out,
            config=resolved,
            series=simulation.series,
            prices=prices,
            events=simulation.events,
            summary=summary,
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
    """The allocator's rules in order: stop, stages, rebalance band, buffer floor, MUR cap."""
    rules: list[Rule] = []
    if config.stop_drawdown is not None:
        rules.append(DrawdownStop(config.stop_drawdown))
    if config.stages != (1.0,):
        rules.append(StagedDeployment(config.stages, config.stage_window, config.stage_drawdown))
    rules += [RebalanceBand(config.rebalance_band), BufferFloor(config.buffer_floor), MurCap(config.mur_cap)]
    return Allocator(tuple(rules))


def build_run(config: RunConfig, market: Market | None = None) -> Run:
    """Wire market, regime, strategy and allocator for ``config`` (``market`` may be shared between runs)."""
    market = market if market is not None else build_market(config.market)
    strategy = build_strategy(config.strategy)
    allocator = build_allocator(config.allocator)
    return Run(config, market, build_regime(config.regime, market), strategy, allocator)


def first_price(market: Market, symbol: str) -> float:
    """The first listed close of ``symbol`` (to size books in units of the starting wallet)."""
    col = market.column(symbol)
    listed = np.flatnonzero(market.listed[:, col])
    if listed.size == 0:
        raise ConfigError(f"{symbol} is never listed in this market")
    return float(market.close[listed[0], col])
