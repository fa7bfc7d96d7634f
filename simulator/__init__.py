"""pmsim's simulator: market arrays, margin regimes, the batched engine, run folders and the CLI.

The public surface is listed in ``__all__`` and imported lazily, so that ``pmsim --help`` (which
imports this package) does not pay for numpy and pandas.
"""

from __future__ import annotations

from pmsim.simulator.lazy import lazy_exports

_PUBLIC = {
    "RunConfig": "pmsim.simulator.config",
    "build_run": "pmsim.simulator.build",
    "simulate": "pmsim.simulator.engine.engine",
    "Market": "pmsim.simulator.market.arrays",
    "generate_market": "pmsim.simulator.market.synthetic",
    "handmade_market": "pmsim.simulator.market.handmade",
    "load_market": "pmsim.simulator.data.assemble",
    "make_regime": "pmsim.simulator.margin",
    "REGIMES": "pmsim.simulator.margin",
    "read_run": "pmsim.simulator.results",
    "PmsimError": "pmsim.simulator.errors",
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _PUBLIC)
