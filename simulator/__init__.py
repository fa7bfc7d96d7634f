"""pmsim's simulator: market arrays, margin regimes, the batched engine, run folders and the CLI.

The public surface is listed in ``__all__`` and imported lazily, so that ``pmsim --help`` (which
imports this package) does not pay for numpy and pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

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
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)


def __dir__() -> list[str]:
    return __all__
