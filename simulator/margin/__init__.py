"""Margin regimes, found by name through a read-only registry (``simulator.margin.registry``).

``isolated`` and ``cross`` use the venue brackets (``datasets/brackets``); ``portfolio`` (preset
``deribit`` by default; ``okx``, ``bybit``, ``cme``) and ``standard`` read their cited parameters from
``datasets/margin``. Names are imported lazily so that the CLI's ``--help`` stays free of numpy.
"""

from __future__ import annotations

from simulator.lazy import lazy_exports

_PUBLIC = {
    "REGIMES": "simulator.margin.registry",
    "make_regime": "simulator.margin.registry",
    "BracketBook": "simulator.margin.brackets",
    "Regime": "simulator.margin.base",
    "Requirements": "simulator.margin.base",
    "CrossRegime": "simulator.margin.cross",
    "cross_liquidation_prices": "simulator.margin.cross",
    "IsolatedRegime": "simulator.margin.isolated",
    "isolated_breach": "simulator.margin.isolated",
    "isolated_liquidation_price": "simulator.margin.isolated",
    "PortfolioRegime": "simulator.margin.portfolio",
    "SizeRateRegime": "simulator.margin.standard",
    "cross_partial_reduction": "simulator.margin.reduction",
    "pm_partial_reduction": "simulator.margin.reduction",
    "shock_distance": "simulator.margin.stress",
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _PUBLIC)
