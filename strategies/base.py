"""The strategy contract: vectorised ``prepare`` once, then ``decide`` per bar on a view that ends at bar t.

A strategy returns target positions ``[S, N]`` (signed contracts) for S parameter sets at once and never
touches the account: the allocator and the engine turn targets into orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from pmsim.simulator.market.arrays import Market


@dataclass(frozen=True)
class BarView:
    """What a strategy may see at the close of bar ``t``: history up to t and the account now.

    ``close``/``mark_close`` are ``[t+1, N]`` slices, so bars after t are physically absent.
    """

    t: int
    time: np.datetime64
    close: np.ndarray
    mark_close: np.ndarray
    listed: np.ndarray  # [N] listed during bar t
    equity: np.ndarray  # [S]
    qty: np.ndarray  # [S, N]

    @classmethod
    def at(cls, market: Market, t: int, equity: np.ndarray, qty: np.ndarray) -> BarView:
        qty_view = qty.view()
        qty_view.flags.writeable = False
        return cls(
            t,
            market.times[t],
            market.close[: t + 1],
            market.mark_close[: t + 1],
            market.listed[t],
            equity.copy(),
            qty_view,
        )


@runtime_checkable
class Strategy(Protocol):
    """``prepare(market)`` computes indicators for every parameter set once; ``decide`` reads them at t."""

    name: str

    @property
    def n_configs(self) -> int: ...

    def prepare(self, market: Market) -> None: ...

    def decide(self, view: BarView) -> np.ndarray: ...

    def labels(self) -> list[str]:
        """One short label per parameter set, for reports."""
        ...

    def describe(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class StrategyEvent:
    """Something a strategy did at the bar it just decided (a stop, a roll, a basis entry or exit).

    ``books`` are the parameter-set indices it concerns; ``amount`` is one number per book (or one for all).
    The engine drains these right after ``decide`` and records them on the account column at that bar, the
    note prefixed with the sleeve name. Kinds in use: ``stop`` (note ``stop_loss``/``trailing_stop``),
    ``roll`` (note ``roll OLD -> NEW``), ``entry``/``exit`` (note with the reason).
    """

    kind: str
    books: np.ndarray  # [k] book indices
    amount: np.ndarray | float
    note: str


@runtime_checkable
class EmitsEvents(Protocol):
    """Optional: a strategy that reports what it did returns (and forgets) its events since the last call."""

    def drain_events(self) -> list[StrategyEvent]: ...


def as_param(values: float | list[float] | np.ndarray, n: int, name: str) -> np.ndarray:
    """Broadcast a scalar or length-n parameter to a float array of length n."""
    from pmsim.simulator.errors import ConfigError

    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.size == 0:
        raise ConfigError(f"strategy.params.{name} is an empty list; give a number or a list of numbers")
    if arr.size == 1:
        return np.full(n, arr[0])
    if arr.size != n:
        raise ConfigError(f"strategy parameter {name} has {arr.size} values; expected 1 or {n}")
    return arr
