"""The margin-regime contract: a pure function of positions and prices to requirements.

A regime holds only its parameters (and the instrument facts it was bound to). It never touches
the account, does no I/O, and decides nothing about liquidation (``simulator.engine.liquidation``
does). Shapes: ``qty[S, N]`` signed contracts, ``mark[N]`` or ``mark[S, N]`` prices; results are
``im[S]``, ``mm[S]`` and, where the regime margins positions one by one, ``im_pos``/``mm_pos[S, N]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True, slots=True)
class Requirements:
    """Initial and maintenance margin of S books (USDT)."""

    im: np.ndarray
    mm: np.ndarray
    im_pos: np.ndarray | None = None
    mm_pos: np.ndarray | None = None


@runtime_checkable
class Regime(Protocol):
    """What every margin regime offers the engine, the allocator and the what-if calculator.

    ``requirements(qty, mark, when)`` returns the margin S books need at prices ``mark`` at the
    instant ``when`` (tables can change over time). It must be pure and whole-array: no Python loop
    over positions or scenarios. Implementations: ``cross``, and the ones in the registry.
    """

    name: str

    def requirements(self, qty: np.ndarray, mark: np.ndarray, when: np.datetime64) -> Requirements: ...

    def describe(self) -> dict[str, object]:
        """JSON-ready parameters, echoed into run folders and reports."""
        ...
