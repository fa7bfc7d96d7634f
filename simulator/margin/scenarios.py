"""Scenario matrices for portfolio margin: relative moves of each instrument in each scenario.

A ``ScenarioSet`` holds weighted relative moves ``R[N, G, K]``: group ``g`` is one worst-case search
(an underlying, a basis term, or the whole book in ``correlated`` mode) and ``k`` its scenarios.
With ``signed = qty * mark`` (``[S, N]`` USDT) the PnL of every scenario is ONE matrix product
``signed @ R`` — the ``dP[N, K] = mark[:, None] * R`` of docs/concepts.md with the mark folded into the
positions, so ``mark[S, N]`` costs the same. Builders here are pure; nothing loops over positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pmsim.simulator.market.instruments import Instrument
from pmsim.simulator.numeric import rows_at

YEAR_DAYS = 365.25
ELLIPSE_POINTS_2D = 256
_MS_PER_DAY = 86_400_000


@dataclass(frozen=True, slots=True)
class ScenarioSet:
    """Weighted relative moves: ``price[N, Gp, Kp]`` then ``basis[N, Gb, Kb]`` (Gb may be 0)."""

    price: np.ndarray
    basis: np.ndarray
    columns: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.price)  # side by side once: a regime asks the same set many times per bar
        columns = np.concatenate([self.price.reshape(n, -1), self.basis.reshape(n, -1)], axis=1)
        object.__setattr__(self, "columns", columns)

    def matrix(self) -> np.ndarray:
        """``[N, Gp*Kp + Gb*Kb]``: every scenario column side by side."""
        return self.columns

    def worst(self, signed: np.ndarray, held: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Worst loss (>= 0) per group: ``([S, Gp], [S, Gb])`` from one product ``signed[S, N] @ R``.

        ``held`` (see ``held_columns``): ``signed`` has only these instruments' columns.
        """
        _, gp, kp = self.price.shape
        _, gb, kb = self.basis.shape
        pnl = rows_at(signed, held_rows(self.columns, held))
        lead = pnl.shape[:-1]
        price = np.maximum(-pnl[..., : gp * kp].reshape(*lead, gp, kp).min(axis=-1, initial=0.0), 0.0)
        basis = np.maximum(-pnl[..., gp * kp :].reshape(*lead, gb, kb).min(axis=-1, initial=0.0), 0.0)
        return price, basis


def membership(instruments: tuple[Instrument, ...]) -> tuple[tuple[str, ...], np.ndarray]:
    """Underlyings in order of first appearance and the 0/1 matrix ``member[N, U]``."""
    underlyings = tuple(dict.fromkeys(i.underlying for i in instruments))
    member = np.array([[i.underlying == u for u in underlyings] for i in instruments], dtype=float)
    return underlyings, member.reshape(len(instruments), len(underlyings))


def years_to_expiry(instruments: tuple[Instrument, ...], when: np.datetime64) -> np.ndarray:
    """``[N]`` years from ``when`` to each dated future's expiry (0 for perpetuals and past expiries)."""
    dated = np.array([i.is_dated for i in instruments], dtype=bool)
    return years_left(expiry_ms(instruments), dated, when)


def expiry_ms(instruments: tuple[Instrument, ...]) -> np.ndarray:
    """``[N]`` int64 expiry instants in ms (0 for perpetuals): read once, then ``years_left`` per instant."""
    return np.array(
        [i.expiry.astype("datetime64[ms]").astype(np.int64) if i.is_dated else 0 for i in instruments],
        dtype=np.int64,
    )


def years_left(expiry: np.ndarray, dated: np.ndarray, when: np.datetime64) -> np.ndarray:
    """``years_to_expiry`` from the instruments' ``expiry_ms`` and dated mask."""
    now = np.datetime64(when, "ms").astype(np.int64)
    return np.maximum(np.where(dated, expiry, now) - now, 0) / _MS_PER_DAY / YEAR_DAYS


def held_columns(signed: np.ndarray) -> np.ndarray | None:
    """Instruments some book holds (``signed`` not 0 in some row), or None when that is all of them.

    A column of zeros adds exact zeros to every row's running sum (``rows_at`` sums n in order from
    +0.0), so products over the held columns alone equal the full ones bit for bit.
    """
    # a sum of |x| is 0 only where every x is 0 (NaN stays held); faster than ``any`` down the rows
    held = np.flatnonzero(np.einsum("sn->n", np.abs(signed).reshape(-1, signed.shape[-1])) != 0)
    return None if len(held) == signed.shape[-1] else held


def held_rows(per_instrument: np.ndarray, held: np.ndarray | None) -> np.ndarray:
    """The rows ``[N, ...]`` of the held instruments (all of them for None)."""
    return per_instrument if held is None else per_instrument[held]


def price_block(moves: np.ndarray, weights: np.ndarray, member: np.ndarray) -> np.ndarray:
    """``R[N, U, P]``: every instrument of underlying u moves by ``moves[p]``, the loss counted at ``weights[p]``."""
    return member[:, :, None] * (moves * weights)[None, None, :]


def joint_block(shocks: np.ndarray, member: np.ndarray) -> np.ndarray:
    """``R[N, 1, D]``: joint moves ``shocks[U, D]`` of all underlyings at once (one worst-case group)."""
    return (member @ shocks)[:, None, :]


def basis_size(tau: np.ndarray, annualised_move: float, min_move: float) -> np.ndarray:
    """``[N]`` relative basis (roll) shock ``max(annualised_move x years_to_expiry_n, min_move)``."""
    return np.maximum(annualised_move * tau, min_move)


def basis_block(
    tau: np.ndarray, dated: np.ndarray, member: np.ndarray, annualised_move: float, min_move: float
) -> np.ndarray:
    """``R[N, U, 3]``: each underlying's dated futures move by ``-b, 0, +b`` against its perpetual.

    ``b_n = basis_size`` (OKX MR4 annualised move); perpetuals do not move, so a perp/quarterly book
    keeps its basis risk.
    """
    size = np.where(dated, basis_size(tau, annualised_move, min_move), 0.0)
    return member[:, :, None] * (size[:, None] * np.array([-1.0, 0.0, 1.0]))[:, None, :]


def roll_shock(signed: np.ndarray, size: np.ndarray, member: np.ndarray) -> np.ndarray:
    """``[S, U]`` Deribit's roll shock: ``sum_n basis_size_n x |signed_n|`` per underlying, no netting.

    ``size[N]`` is each instrument's ``basis_size``: perpetuals count at ``min_move``. Deribit's
    pme/simulate example (2024-06-17) gives roll_shock 0.00315725898 BTC = 0.01 x (0.314538364 +
    0.001187534), the gross BTC size of its perpetual and 28JUN24 legs at the 1 % floor.
    """
    return rows_at(np.abs(signed) * size, member)


def sphere_directions(n_dims: int) -> np.ndarray:
    """``[U, D]`` unit vectors covering the sphere, symmetric (``-u`` is in the set with ``u``).

    U = 2: 256 equally spaced angles (a linear book's worst case is missed by < 0.01 %); otherwise the
    normalised integer points on the surface of the cube ``{-k..k}^U`` (U = 3: 386 directions).
    """
    if n_dims == 2:
        angle = np.linspace(0.0, 2 * np.pi, ELLIPSE_POINTS_2D, endpoint=False)
        return np.stack([np.cos(angle), np.sin(angle)])
    k = {1: 1, 3: 4}.get(n_dims, 2)
    axes = np.meshgrid(*[np.arange(-k, k + 1)] * n_dims, indexing="ij")
    points = np.stack([a.ravel() for a in axes], axis=0).astype(float)
    points = points[:, np.abs(points).max(axis=0) == k]
    return points / np.linalg.norm(points, axis=0)


def ellipse_shocks(root: np.ndarray, radius: float) -> np.ndarray:
    """``[U, D]`` joint moves on the ellipse ``z' inv(C) z = radius^2`` where ``root @ root.T = C``."""
    return radius * root @ sphere_directions(len(root))
