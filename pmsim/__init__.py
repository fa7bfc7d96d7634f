"""pmsim: backtest and stress crypto futures books under isolated, cross and portfolio margin.

Everything pmsim installs lives under this one namespace, so it never shadows another package:
``pmsim.simulator`` (engine, market, margin regimes, data layer, CLI), ``pmsim.strategies``,
``pmsim.reports`` and ``pmsim.datasets`` (bundled data only). In a checkout they are the folders
at the top of the repository, mapped here by ``pyproject.toml``.

The Python API (``__all__``) is the command line's operations as functions returning results, for
notebooks: ``run``, ``load``, ``compare``, ``sweep``, ``margin`` and ``stress``. Names load on first use, so
``import pmsim`` stays light (no numpy, pandas or vectorbt until a function runs).

>>> import pmsim
>>> result = pmsim.run({"market": {"bars": 100}})
>>> result.summary.shape[0]  # the default ADX book: one row per book
1
"""

from __future__ import annotations

__version__ = "0.1.0"

# In a checkout the sub-packages are the folders beside this one (installed, they sit inside it): let
# the import system find them there, so the tree you are in is the code you run.
_checkout = __import__("pathlib").Path(__file__).resolve().parent.parent
if (_checkout / "simulator" / "__init__.py").is_file() and str(_checkout) not in __path__:
    __path__.append(str(_checkout))
del _checkout

from pmsim.simulator.lazy import lazy_exports  # noqa: E402  (the sub-packages are found from here on)

_PUBLIC = {
    "run": "pmsim.api",
    "load": "pmsim.api",
    "compare": "pmsim.api",
    "sweep": "pmsim.api",
    "margin": "pmsim.whatif",
    "stress": "pmsim.whatif",
    "Result": "pmsim.result",
    "Comparison": "pmsim.many",
    "SweepResult": "pmsim.many",
    "MarginReport": "pmsim.whatif",
    "StressReport": "pmsim.whatif",
    "RunConfig": "pmsim.simulator.config",
    "PmsimError": "pmsim.simulator.errors",
    "ConfigError": "pmsim.simulator.errors",
}
__getattr__, __dir__, _names = lazy_exports(__name__, _PUBLIC)
__all__ = ["__version__", *_names]
