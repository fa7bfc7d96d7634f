"""Strategies: vectorised ``prepare`` and per-bar ``decide`` returning target positions ``[S, N]``."""

from strategies.adx import AdxTrend
from strategies.base import BarView, Strategy
from strategies.hold import Hold

__all__ = ["AdxTrend", "BarView", "Hold", "Strategy"]
