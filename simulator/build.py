"""The composition root: one place that turns a ``RunConfig`` into wired objects and a run folder.

The CLI, sweep workers and end-to-end tests all go through ``build_run``; everything below it receives
its collaborators as arguments.
"""

from __future__ import annotations

import dataclasses
import json
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
    BudgetConfig,
    MarketConfig,
    RegimeConfig,
    RunConfig,
    StrategyConfig,
    StressConfig,
)
from pmsim.simulator.deployment import DrawdownStop, StagedDeployment, Stages
from pmsim.simulator.engine.budgets import Budget
from pmsim.simulator.engine.engine import Costs, ShockProbe, Simulation, simulate
from pmsim.simulator.engine.policies import LiquidationPolicy, policy_for
from pmsim.simulator.engine.sleeves import Sleeve, Sleeves
from pmsim.simulator.errors import ConfigError, DataError
from pmsim.simulator.margin import make_regime
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.margin.covariance import covariance_from_config
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.memory import require_memory
from pmsim.simulator.results import RunFolder, dump_json
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


def build_strategy(config: StrategyConfig, where: str = "strategy") -> Strategy:
    """The strategy ``config`` names, its parameters checked against the strategy class's fields."""
    if config.name not in STRATEGIES:
        raise ConfigError.unknown(where, config.name, STRATEGIES)
    return build(STRATEGIES[config.name], config.params, f"{where}.params")


def per_book(value: Any, n: int | None, key: str) -> Any:
    """A number or a list over the books, as given (``n`` None) or broadcast to ``n`` books.

    A list whose length is neither 1 nor ``n`` is a one-line ``ConfigError`` naming ``key``.
    """
    if not isinstance(value, list | tuple):
        return value
    if n is None or len(value) == n:
        return np.asarray(value) if n is not None else value
    if len(value) == 1:
        return np.full(n, value[0])
    expected = "1 (the run has one book)" if n == 1 else f"1 or {n} (one per book)"
    raise ConfigError(f"{key} has {len(value)} values; expected {expected}")


def per_book_stages(stages: Any, n: int | None, key: str) -> Any:
    """One stage list for every book, or one list per book (``[[0.25, 1.0], [0.5, 1.0]]``)."""
    if not stages or not isinstance(stages[0], list | tuple):
        return tuple(stages)
    if n is not None and len(stages) not in (1, n):
        raise ConfigError(f"{key} has {len(stages)} stage lists; expected 1 or {n} (one per book)")
    return tuple(tuple(s) for s in (stages * n if len(stages) == 1 and n else stages))


def books_of(config: RunConfig, strategies: list[Strategy]) -> int:
    """The run's number of books S: every strategy gives S parameter sets, every list over S values."""
    counts = {strategy.n_configs for strategy in strategies}
    if len(counts) > 1:
        sizes = ", ".join(f"{s.name} {s.n_configs}" for s in strategies)
        raise ConfigError(f"the sleeves' strategies give different numbers of books ({sizes}); give each S")
    return counts.pop()


def build_sleeves(config: RunConfig) -> Sleeves:
    """The run's sleeves (``[strategy]`` alone is one sleeve with the whole equity as budget)."""
    sleeves = config.resolved_sleeves()
    given = bool(config.sleeves)
    where = [f"sleeves[{i}].strategy" if given else "strategy" for i in range(len(sleeves))]
    strategies = [
        build_strategy(StrategyConfig(s.strategy, s.params), w) for s, w in zip(sleeves, where, strict=True)
    ]
    n = books_of(config, strategies)
    names = [s.name for s in sleeves]
    floor = config.allocator.buffer_floor if config.allocator.buffer_floor is not None else 1.0
    built = tuple(
        Sleeve(s.name, strategy, build_budget(s.budget, names, floor, n, f"sleeves[{i}].budget"))
        for i, (s, strategy) in enumerate(zip(sleeves, strategies, strict=True))
    )
    return Sleeves(built, n)


def build_budget(config: BudgetConfig, names: list[str], floor: Any, n: int, where: str) -> Budget:
    stages = None
    if config.stages is not None:
        stages = Stages(
            per_book_stages(config.stages, n, f"{where}.stages"),
            per_book(config.window, n, f"{where}.window"),
            per_book(config.drawdown, n, f"{where}.drawdown"),
            where,
        )
    buffer = config.buffer if config.buffer is not None else floor
    return Budget(
        config.kind,
        per_book(config.fraction, n, f"{where}.fraction"),
        tuple(names.index(name) for name in config.after),
        per_book(buffer, n, f"{where}.buffer"),
        stages,
    )


@dataclass
class Run:
    """A wired run: call ``execute`` to simulate, ``write`` to persist a run folder."""

    config: RunConfig
    market: Market
    regime: Regime
    sleeves: Sleeves
    allocator: Allocator

    def execute(
        self, progress: Callable[[int], None] | None = None, policy: LiquidationPolicy | None = None
    ) -> Simulation:
        """Simulate; ``policy`` replaces the regime's liquidation policy (``pmsim compare``'s observer).

        ``config.engine`` picks the engine: the compiled kernel where it covers the run (``auto``, the
        default), always (``compiled``: an uncovered run is an error) or never (``reference``). The
        run's notes say which engine ran and, when ``auto`` fell back, why.
        """
        from threadpoolctl import threadpool_limits

        account = self.config.account
        arguments = (
            self.market,
            self.regime,
            self.sleeves,
            self.allocator,
            account.wallet,
            Costs(slippage=account.slippage, clearance_fee=account.clearance_fee),
            progress,
            policy or policy_for(self.regime, account.liquidation, account.liquidation_price),
            build_probe(self.config.stress, self.market),
        )
        # the per-bar matrices are small: a threaded BLAS only adds contention (measured in bench/)
        with threadpool_limits(limits=1, user_api="blas"):
            if self.config.engine == "reference":
                return _noted(simulate(*arguments), "engine: reference (engine = 'reference')")
            from pmsim.simulator.kernel.errors import NotCompiled
            from pmsim.simulator.kernel.run import simulate_compiled

            try:
                return _noted(simulate_compiled(*arguments), "engine: compiled (numba kernel)")
            except NotCompiled as why:
                if self.config.engine == "compiled":
                    raise ConfigError(
                        f"engine = 'compiled' does not cover this run ({why}); "
                        "set engine = 'auto' to fall back to the reference engine"
                    ) from None
                note = f"engine: reference (the compiled kernel does not cover {why})"
                return _noted(simulate(*arguments), note)

    def record(self, simulation: Simulation) -> RunFolder:
        """The run folder's contents, in memory, exactly as ``read_run`` would read them back.

        The JSON parts go through their JSON text (non-finite numbers become None, tuples lists), so a
        run kept in memory equals the same run written and read.
        """
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
            "strategy": self.sleeves.sleeves[0].strategy.describe(),
            "sleeves": self.describe_sleeves(),
            "allocator": self.allocator.describe(),
            "thresholds": dict(THRESHOLDS),
            "labels": self.labels(),
            "configs": summarise(simulation.series, simulation.events, market.bar_seconds),
        }
        resolved = self.config.to_dict()
        resolved["resolved"] = {
            "regime": summary["regime"],
            "strategy": summary["strategy"],
            "sleeves": summary["sleeves"],
            "allocator": summary["allocator"],
        }
        return RunFolder(
            path=Path("."),
            config=json.loads(dump_json(resolved)),
            series=simulation.series,
            prices=prices,
            events=simulation.events,
            summary=json.loads(dump_json(summary)),
        )

    def write(
        self,
        simulation: Simulation,
        out: str | Path,
        force: bool = False,
        extra: Callable[[Path], object] | None = None,
    ) -> Path:
        """Write the run folder (see ``results.write_run`` for ``force`` and ``extra``)."""
        return self.record(simulation).write(out, force, extra)

    def describe_sleeves(self) -> list[dict[str, Any]]:
        names = self.sleeves.names
        return [
            {"name": s.name, "strategy": s.strategy.describe(), "budget": s.budget.describe(names)}
            for s in self.sleeves.sleeves
        ]

    def labels(self) -> list[str]:
        """One label per book: the strategy's, or ``sleeve: label`` joined by `` | `` for several sleeves."""
        sleeves = self.sleeves.sleeves
        if len(sleeves) == 1:
            return sleeves[0].strategy.labels()
        per_sleeve = [[f"{s.name}: {label}" for label in s.strategy.labels()] for s in sleeves]
        return [" | ".join(book) for book in zip(*per_sleeve, strict=True)]


def _noted(simulation: Simulation, note: str) -> Simulation:
    return dataclasses.replace(simulation, notes=(*simulation.notes, note))


def build_probe(config: StressConfig, market: Market) -> ShockProbe | None:
    """The stress move per instrument (each takes its underlying's move; 0 for others)."""
    unknown = sorted(set(config.shocks) - set(market.underlyings))
    if unknown:
        raise ConfigError.unknown("stress.shocks underlying", unknown[0], market.underlyings)
    if not config.every:
        return None
    direction = np.array([config.shocks.get(i.underlying, 0.0) for i in market.instruments])
    return ShockProbe(direction, config.every)


def build_allocator(config: AllocatorConfig, n: int | None = None) -> Allocator:
    """The rules the config names (only those), in order: stop, stages, band, buffer floor, MUR cap.

    Lists over the books are broadcast to ``n`` books (``None``: kept as given, for range checks).
    """

    def value(key: str) -> Any:
        return per_book(getattr(config, key), n, f"allocator.{key}")

    rules: list[Rule] = []
    if config.stop_drawdown is not None:
        rules.append(DrawdownStop(value("stop_drawdown")))
    if config.stages is not None:
        window = 168 if config.stage_window is None else value("stage_window")
        drawdown = 0.05 if config.stage_drawdown is None else value("stage_drawdown")
        rules.append(
            StagedDeployment(per_book_stages(config.stages, n, "allocator.stages"), window, drawdown)
        )
    if config.rebalance_band is not None:
        rules.append(RebalanceBand(value("rebalance_band")))
    if config.buffer_floor is not None:
        rules.append(BufferFloor(value("buffer_floor")))
    if config.mur_cap is not None:
        rules.append(MurCap(value("mur_cap"), config.mur_mode or "new_risk"))
    return Allocator(tuple(rules))


def build_run(config: RunConfig, market: Market | None = None) -> Run:
    """Wire market, regime, sleeves and allocator for ``config`` (``market`` may be shared between runs)."""
    sleeves = build_sleeves(config)
    n_books = sleeves.n_configs
    market = market if market is not None else build_market(config.market, n_books)
    n_sleeves = len(sleeves.sleeves) if len(sleeves.sleeves) > 1 else 0
    require_memory(market.n_bars, n_books, len(market.instruments) * (1 + n_sleeves))
    allocator = build_allocator(config.allocator, n_books)
    return Run(config, market, build_regime(config.regime, market), sleeves, allocator)


def first_price(market: Market, symbol: str) -> float:
    """The first listed close of ``symbol`` (to size books in units of the starting wallet)."""
    col = market.column(symbol)
    listed = np.flatnonzero(market.listed[:, col])
    if listed.size == 0:
        raise ConfigError(f"{symbol} is never listed in this market")
    return float(market.close[listed[0], col])
