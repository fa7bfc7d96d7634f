"""The margin-regime contract: a pure function of positions and prices to requirements.

A regime holds only its parameters (and the instrument facts it was bound to). It never touches
the account, does no I/O, and decides nothing about liquidation (``simulator.engine.liquidation``
does). Shapes: ``qty[S, N]`` signed contracts, ``mark[N]`` or ``mark[S, N]`` prices; results are
``im[S]``, ``mm[S]`` and, where the regime margins positions one by one, ``im_pos``/``mm_pos[S, N]``.
The engine's liquidation policies use nothing but this protocol: ``liquidates`` says whether the
account or each position is liquidated, ``partial_reduction`` what a breaching book keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

# what a regime derives for one instant (tables, scenario sets) it keeps for this many recent instants:
# a bar asks a few (fills, corners and threshold at the open, the close) many times each
INSTANTS_KEPT = 64


@dataclass(frozen=True, slots=True)
class Requirements:
    """Initial and maintenance margin of S books (USDT)."""

    im: np.ndarray
    mm: np.ndarray
    im_pos: np.ndarray | None = None
    mm_pos: np.ndarray | None = None


Scope = Literal["account", "position"]


@runtime_checkable
class Regime(Protocol):
    """What every margin regime offers the engine, the allocator and the what-if calculator.

    ``requirements(qty, mark, when)`` returns the margin S books need at prices ``mark`` at the
    instant ``when`` (tables can change over time). It must be pure and whole-array: no Python loop
    over positions or scenarios. Implementations: ``cross``, and the ones in the registry.

    ``liquidates`` is ``"account"`` (equity against the book's MM: cross, portfolio, standard) or
    ``"position"`` (each position against its own margin: isolated; ``requirements`` then returns
    ``im_pos`` and ``mm_pos``).
    """

    name: str
    liquidates: Scope

    def requirements(self, qty: np.ndarray, mark: np.ndarray, when: np.datetime64) -> Requirements: ...

    def partial_reduction(
        self, qty: np.ndarray, mark: np.ndarray, equity: np.ndarray, when: np.datetime64, fee_rate: float
    ) -> np.ndarray:
        """Quantities ``[S, N]`` each book keeps when a partial liquidation closes part of it at ``mark``.

        Every row is treated as breaching (the caller picks the rows); ``equity[S]`` is at ``mark`` and
        ``fee_rate`` is charged on the closed notional. All zeros means a full close.
        """
        ...

    def describe(self) -> dict[str, object]:
        """JSON-ready parameters, echoed into run folders and reports."""
        ...
