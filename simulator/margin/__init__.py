"""Margin regimes, found by name through a read-only registry (``simulator.margin.registry``).

``isolated`` and ``cross`` use the venue brackets (``datasets/brackets``); ``portfolio`` (preset
``deribit`` by default; ``okx``, ``bybit``, ``cme``) and ``standard`` read their cited parameters from
``datasets/margin``. Names are imported lazily so that the CLI's ``--help`` stays free of numpy.
"""

from __future__ import annotations

from pmsim.simulator.lazy import lazy_exports

_PUBLIC = {
    "REGIMES": "pmsim.simulator.margin.registry",
    "make_regime": "pmsim.simulator.margin.registry",
    "BracketBook": "pmsim.simulator.margin.brackets",
    "Regime": "pmsim.simulator.margin.base",
    "Requirements": "pmsim.simulator.margin.base",
    "CrossRegime": "pmsim.simulator.margin.cross",
    "cross_liquidation_prices": "pmsim.simulator.margin.cross",
    "IsolatedRegime": "pmsim.simulator.margin.isolated",
    "isolated_breach": "pmsim.simulator.margin.isolated",
    "isolated_liquidation_price": "pmsim.simulator.margin.isolated",
    "PortfolioRegime": "pmsim.simulator.margin.portfolio",
    "SizeRateRegime": "pmsim.simulator.margin.standard",
    "cross_partial_reduction": "pmsim.simulator.margin.reduction",
    "pm_partial_reduction": "pmsim.simulator.margin.reduction",
    "shock_distance": "pmsim.simulator.margin.stress",
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _PUBLIC)
