"""Strategies: vectorised ``prepare`` and per-bar ``decide`` returning target positions ``[S, N]``."""

from pmsim.strategies.adx import AdxTrend
from pmsim.strategies.base import BarView, Strategy, StrategyEvent
from pmsim.strategies.basis import BasisCarry
from pmsim.strategies.hold import Hold
from pmsim.strategies.pair import PairHedge

__all__ = ["AdxTrend", "BarView", "BasisCarry", "Hold", "PairHedge", "Strategy", "StrategyEvent"]
