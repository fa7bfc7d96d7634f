"""Strategies: vectorised ``prepare`` and per-bar ``decide`` returning target positions ``[S, N]``."""

from pmsim.strategies.adx import AdxTrend
from pmsim.strategies.base import BarView, Strategy
from pmsim.strategies.basis import BasisCarry
from pmsim.strategies.hold import Hold

__all__ = ["AdxTrend", "BasisCarry", "BarView", "Hold", "Strategy"]
