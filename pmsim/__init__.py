"""pmsim: backtest and stress crypto futures books under isolated, cross and portfolio margin.

Everything pmsim installs lives under this one namespace, so it never shadows another package:
``pmsim.simulator`` (engine, market, margin regimes, data layer, CLI), ``pmsim.strategies``,
``pmsim.reports`` and ``pmsim.datasets`` (bundled data only). In a checkout they are the folders
at the top of the repository, mapped here by ``pyproject.toml``.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]

# In a checkout the sub-packages are the folders beside this one (installed, they sit inside it): let
# the import system find them there, so the tree you are in is the code you run.
_checkout = __import__("pathlib").Path(__file__).resolve().parent.parent
if (_checkout / "simulator" / "__init__.py").is_file() and str(_checkout) not in __path__:
    __path__.append(str(_checkout))
del _checkout
