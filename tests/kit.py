"""Test doubles shared by several test modules (importable, unlike conftest fixtures)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pmsim.simulator.market.arrays import Market
from pmsim.strategies.base import BarView


@dataclass(eq=False)
class Scripted:
    """Targets given bar by bar: ``targets[T, S, N]``; the decision at bar t is ``targets[t]``."""

    targets: np.ndarray
    name: str = "scripted"

    @property
    def n_configs(self) -> int:
        return self.targets.shape[1]

    def prepare(self, market: Market) -> None:
        assert self.targets.shape[0] == market.n_bars

    def decide(self, view: BarView) -> np.ndarray:
        return self.targets[view.t]

    def labels(self) -> list[str]:
        return [f"book {s}" for s in range(self.n_configs)]

    def describe(self) -> dict[str, object]:
        return {"name": self.name}


@dataclass(frozen=True)
class HoldMurAt:
    """Allocator double: scale every target, held positions too, so IM <= ``cap`` x equity; one cut event
    per scaled book. A book that keeps losing is worn down by cuts without ever being liquidated."""

    cap: float = 0.7

    def allocate(self, targets, view, regime, bar, log):
        im = regime.requirements(targets, view.mark_close[-1], view.time).im
        limit = self.cap * np.maximum(view.equity, 0.0)
        with np.errstate(all="ignore"):
            scale = np.where(im > limit, limit / im, 1.0)
        cut = scale < 1
        log.add("cut", bar, np.flatnonzero(cut), -1, amount=scale[cut], note=f"test MUR hold-at {self.cap:g}")
        return targets * scale[:, None]


def worn_down_hold(bars: int = 60):
    """A 10x cross long of 7x equity in a market falling 1.5 % a bar under :class:`HoldMurAt`: cut on
    every bar, never liquidated, ruined (equity <= 1 % of 10,000) at bar 42."""
    from pmsim.simulator.engine.engine import Costs, simulate
    from pmsim.simulator.margin import make_regime
    from pmsim.simulator.market.handmade import handmade_market
    from pmsim.strategies import Hold

    market = handmade_market({"BTCUSDT": 100 * 0.985 ** np.arange(bars)})
    regime = make_regime("cross", market.instruments, leverage=10)
    return simulate(market, regime, Hold({"BTCUSDT": 700.0}), HoldMurAt(), 10_000.0, Costs(slippage=0.0))
