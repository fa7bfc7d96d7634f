"""Drive a strategy bar by bar outside the engine: its decisions and events for a given budget path."""

from __future__ import annotations

import numpy as np
from pmsim.simulator.market.arrays import Market
from pmsim.strategies.base import BarView, Strategy


def replay(
    strategy: Strategy, market: Market, budget: np.ndarray | float = 10_000.0, bars: int | None = None
):
    """``prepare`` then ``decide`` at bars 0 .. bars-1 with ``budget`` ``[T]``, ``[T, S]`` (one per book) or
    constant as equity and the strategy's own previous targets as positions. Returns targets
    ``[bars, S, N]`` and, per bar, the events drained right after its decision as
    ``(kind, books, amount, note)`` tuples."""
    strategy.prepare(market)
    bars = market.n_bars if bars is None else bars
    budget = np.asarray(budget, dtype=float)
    per_book = budget.reshape(-1, 1) if budget.ndim == 1 else budget
    budget = np.broadcast_to(per_book, (market.n_bars, strategy.n_configs))
    qty = np.zeros((strategy.n_configs, len(market.instruments)))
    targets, events = [], []
    for t in range(bars):
        equity = budget[t].copy()
        qty = strategy.decide(BarView.at(market, t, equity, qty)).copy()
        targets.append(qty)
        drained = getattr(strategy, "drain_events", lambda: [])()
        events.append(
            [(e.kind, list(e.books), np.round(np.atleast_1d(e.amount), 12).tolist(), e.note) for e in drained]
        )
    return np.array(targets), events
