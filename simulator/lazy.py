"""Lazy public surfaces: a package lists its names and the modules they live in, imported on first use.

This keeps ``import pmsim.simulator`` (which ``pmsim --help`` does) free of numpy and pandas.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, public: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """(``__getattr__``, ``__dir__``, ``__all__``) for ``package`` exporting ``public`` (name -> module)."""
    names = sorted(public)

    def getattr_(name: str) -> Any:
        if name not in public:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(public[name]), name)

    def dir_() -> list[str]:
        return names

    return getattr_, dir_, names
