"""pmsim's simulator: market arrays, margin regimes, the batched engine, run folders and the CLI.

The public surface is listed in ``__all__`` and imported lazily, so that ``pmsim --help`` (which
imports this package) does not pay for numpy and pandas.
"""

from __future__ import annotations

from simulator.lazy import lazy_exports

_PUBLIC = {
    "RunConfig": "simulator.config",
    "build_run": "simulator.build",
    "simulate": "simulator.engine.engine",
    "Market": "simulator.market.arrays",
    "generate_market": "simulator.market.synthetic",
    "handmade_market": "simulator.market.handmade",
    "load_market": "simulator.data.assemble",
    "make_regime": "simulator.margin",
    "REGIMES": "simulator.margin",
    "read_run": "simulator.results",
    "PmsimError": "simulator.errors",
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _PUBLIC)
