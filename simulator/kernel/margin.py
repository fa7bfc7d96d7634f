"""Compiled margin requirements: one book's (im, mm) from flat tables, with no allocation per call.

``compile_margin(regime, instants)`` turns a reference regime (``simulator.margin``) into
``MarginTables`` (arrays a numba kernel can take as one argument) and a ``slot`` per instant;
``requirements_row(tables, slot, qty, mark, im_pos, mm_pos, work)`` then equals
``regime.requirements(qty[None], mark[None], instant)`` within 1e-12 relative (tests/simulator/kernel).
The tables are built from the regime's own pieces (``arrays_at``, ``params_``, ``covariance.at``;
``version_at``, ``years_to_expiry`` and ``matrix_root`` vectorised over the instants, checked against
them in the tests) and the kernels repeat the reference's arithmetic in its order, so most results
are bit-identical; the exceptions are sums numpy reduces in another order (tiered sums over more
than 8 instruments, single-column ``einsum``) and the correlated shocks ``radius * root @ directions``,
which BLAS computes with fused multiply-adds.

Slots and memory (N instruments, I instants of which S distinct, B tiers, V preset versions,
U underlyings; every regime also keeps ``slot``, 8 bytes per instant):

- tiered (cross, isolated): one slot per bracket epoch met, ``(4 x B + 2) x E x N`` floats (E <= 30);
- standard: one slot per preset version, ``V x 4 x N`` floats;
- portfolio: one slot per distinct instant holding its years to expiry ``[N]`` and two indices, plus
  the versions' ``V x P`` moves; correlated adds ``radius x root[U, U]`` per distinct covariance
  (every bar for EWMA, one for a fixed covariance) and one direction set ``[U, D]`` (D = 256 at U = 2).

A 6-year hourly portfolio run (I ~ 104,000 opens and closes, S ~ 52,000, N = 4, U = 2) needs
``8 x (I + S x (N + 2 + U^2))`` bytes ~ 5 MB (measured 4.2 MB for EWMA-correlated; the tiered
tables 0.8 MB, almost all of it ``slot``); nothing is ``O(I x N x K)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from pmsim.simulator.kernel.errors import NotCompiled
from pmsim.simulator.kernel.jit import borrowing
from pmsim.simulator.kernel.margin_portfolio import portfolio_row, portfolio_tables, versions_at
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.margin.cross import CrossRegime
from pmsim.simulator.margin.isolated import IsolatedRegime
from pmsim.simulator.margin.portfolio import PortfolioRegime
from pmsim.simulator.margin.standard import SizeRateRegime

jit = borrowing()
TIERED, STANDARD, PORTFOLIO = 0, 1, 2
_F1, _F2, _F3, _I1 = np.zeros(0), np.zeros((0, 0)), np.zeros((0, 0, 0)), np.zeros(0, np.int64)
_B1 = np.zeros(0, np.bool_)


class MarginTables(NamedTuple):
    """Everything a regime's requirements need, one type for every regime (fields of others are empty).

    Slot axis first: ``E`` bracket epochs (tiered), ``V`` preset versions (standard), ``S`` distinct
    instants (portfolio, whose per-version fields are indexed by ``pm_version[slot]``).
    """

    kind: int
    # tiered: tier search keys floor + n x spacing (+inf padding), as BracketArrays.tier does
    tier_key: np.ndarray = _F3  # [E, N, B]
    tier_offset: np.ndarray = _F2  # [E, N] n x spacing
    tier_half_spacing: np.ndarray = _F1  # [E] notional cap of the key
    tier_mmr: np.ndarray = _F3  # [E, N, B]
    tier_cum: np.ndarray = _F3  # [E, N, B]
    tier_max_leverage: np.ndarray = _F3  # [E, N, B]
    tier_zero_mm: np.ndarray = _F2  # [E, N] MM of an empty position (nonzero only for a negative cum)
    leverage: np.ndarray = _F1  # [N] leverage setting
    # standard: im base, im slope, mm base, mm slope of each instrument
    rates: np.ndarray = _F3  # [V, 4, N]
    # portfolio (see margin_portfolio.py)
    pm_version: np.ndarray = _I1  # [S] preset version in force
    pm_cov: np.ndarray = _I1  # [S] covariance index into pm_root (correlated)
    pm_tau: np.ndarray = _F2  # [S, N] years to expiry
    pm_underlying: np.ndarray = _I1  # [N] underlying index of each instrument
    pm_dated: np.ndarray = _B1  # [N]
    pm_n_underlyings: int = 0
    pm_correlated: bool = False
    pm_credit: bool = False  # span with its inter-commodity credit granted
    pm_credit_rate: float = 0.0
    pm_moves: np.ndarray = _F2  # [V, P] moves x weights, zero padded
    pm_annualised_move: np.ndarray = _F1  # [V]
    pm_min_move: np.ndarray = _F1  # [V]
    pm_contingency_rate: np.ndarray = _F1  # [V]
    pm_calendar_rate: np.ndarray = _F1  # [V]
    pm_charge_rate: np.ndarray = _F1  # [V]
    pm_charge_floors: np.ndarray = _F2  # [V, J] zero padded
    pm_charge_widths: np.ndarray = _F2  # [V, J] zero padded
    pm_charge_multipliers: np.ndarray = _F2  # [V, J] zero padded
    pm_gross_basis: np.ndarray = _B1  # [V]
    pm_anchor_im: np.ndarray = _B1  # [V]
    pm_factor: np.ndarray = _F1  # [V]
    pm_root: np.ndarray = _F3  # [C, U, U] radius x matrix_root(covariance)
    pm_directions: np.ndarray = _F2  # [U, D] sphere directions


@dataclass(frozen=True)
class CompiledMargin:
    """The tables, the slot of every instant, the scratch length and whether im_pos/mm_pos are filled."""

    tables: MarginTables
    slot: np.ndarray
    work_size: int
    per_position: bool


def compile_margin(regime: Regime, instants: np.ndarray) -> CompiledMargin:
    """Tables serving ``regime`` at every one of ``instants`` (datetime64[ms] [I]).

    Raises ``NotCompiled`` for a regime class the kernels do not cover (subclasses included: they
    may change the arithmetic).
    """
    instants = np.asarray(instants, dtype="datetime64[ms]")
    if instants.size == 0:
        raise NotCompiled("no instants to serve (a run without bars)")
    kind = type(regime)
    if kind in (CrossRegime, IsolatedRegime):
        return _tiered(regime, instants)  # type: ignore[arg-type]
    if kind is SizeRateRegime:
        return _standard(regime, instants)  # type: ignore[arg-type]
    if kind is PortfolioRegime:
        fields, slot, work_size = portfolio_tables(regime, instants)  # type: ignore[arg-type]
        return CompiledMargin(MarginTables(PORTFOLIO, **fields), slot, work_size, False)
    raise NotCompiled(f"margin regime {kind.__name__} has no compiled kernel")


def _tiered(regime: CrossRegime | IsolatedRegime, instants: np.ndarray) -> CompiledMargin:
    """One slot per bracket epoch met by ``instants`` (overrides are already in ``arrays_at``)."""
    leverage = np.asarray(regime.leverage, dtype=float)
    if leverage.size not in (1, len(regime.instruments)) or leverage.ndim > 1:
        raise NotCompiled(f"regime.leverage of shape {leverage.shape}: one setting or one per instrument")
    epoch = np.searchsorted(regime.brackets.change_instants(), instants, side="right")
    epochs, first, slot = np.unique(epoch, return_index=True, return_inverse=True)
    arrays = [regime.arrays_at(instants[i]) for i in first]
    n, width = len(regime.instruments), max(a.floor.shape[1] for a in arrays)

    def stack(name: str, fill: float) -> np.ndarray:
        out = np.full((len(arrays), n, width), fill)
        for e, a in enumerate(arrays):
            values = getattr(a, name)
            out[e, :, : values.shape[1]] = values
        return out

    offset = np.stack([np.arange(n) * a.spacing for a in arrays])  # BracketArrays._offsets
    mmr, cum = stack("mmr", 1.0), stack("cum", 0.0)
    tables = MarginTables(
        TIERED,
        tier_key=stack("floor", np.inf) + offset[:, :, None],
        tier_offset=offset,
        tier_half_spacing=np.array([a.spacing / 2 for a in arrays]),
        tier_mmr=mmr,
        tier_cum=cum,
        tier_max_leverage=stack("max_leverage", 1.0),
        tier_zero_mm=np.maximum(0.0 * mmr[:, :, 0] - cum[:, :, 0], 0.0),
        leverage=np.array(np.broadcast_to(leverage, (n,))),
    )
    return CompiledMargin(tables, slot.astype(np.int64), 0, True)


def _standard(regime: SizeRateRegime, instants: np.ndarray) -> CompiledMargin:
    """One slot per preset version (the rates change only there)."""
    slot = versions_at(regime.preset, instants)
    rates = np.ascontiguousarray(np.stack(regime.rates_), dtype=float)
    return CompiledMargin(MarginTables(STANDARD, rates=rates), slot, 0, True)


@borrowing(inline="always")
def requirements_row(tables, slot, qty, mark, im_pos, mm_pos, work):  # noqa: ANN001, ANN201
    """(im, mm) of one book ``qty[N]`` at ``mark[N]`` (NaN = 0) with the tables of ``slot``.

    Tiered and standard regimes write ``im_pos``/``mm_pos[N]``; portfolio writes zeros there.
    Inlined into its callers, and the tiered and standard rows take only their slot's arrays: a
    call passes every array of its arguments word by word (~300 words for the whole tables).
    """
    if tables.kind == PORTFOLIO:
        im_pos[:] = 0.0
        mm_pos[:] = 0.0
        return portfolio_row(tables, slot, qty, mark, work)
    if tables.kind == STANDARD:
        return _standard_row(tables.rates[slot], qty, mark, im_pos, mm_pos)
    t = tables
    tiers = (t.tier_key[slot], t.tier_mmr[slot], t.tier_cum[slot], t.tier_max_leverage[slot])
    at = (t.tier_offset[slot], t.tier_zero_mm[slot], t.tier_half_spacing[slot])
    return _tiered_row(tiers, at, t.leverage, qty, mark, im_pos, mm_pos)


@jit
def _tiered_row(tiers, at, leverage, qty, mark, im_pos, mm_pos):  # noqa: ANN001, ANN202
    """Bracket MM ``max(notional x mmr - cum, 0)`` and IM ``notional / min(leverage, tier leverage)``.

    ``tiers`` are the slot's ``[N, B]`` keys, mmr, cum and max leverage; ``at`` its offset and zero MM
    ``[N]`` and the key's notional cap."""
    keys, mmr, cum, max_leverage = tiers
    offset, zero_mm, half = at
    width = keys.shape[1]
    im = 0.0
    mm = 0.0
    for n in range(len(qty)):
        price = mark[n]
        if np.isnan(price):
            price = 0.0
        notional = abs(qty[n]) * price
        if notional == 0.0:
            im_pos[n] = 0.0
            mm_pos[n] = zero_mm[n]
            mm += mm_pos[n]
            continue
        key = min(notional, half) + offset[n]
        b = 0
        while b + 1 < width and keys[n, b + 1] <= key:
            b += 1
        mm_pos[n] = max(notional * mmr[n, b] - cum[n, b], 0.0)
        im_pos[n] = notional / min(leverage[n], max_leverage[n, b])
        im += im_pos[n]
        mm += mm_pos[n]
    return im, mm


@jit
def _standard_row(rates, qty, mark, im_pos, mm_pos):  # noqa: ANN001, ANN202
    """Deribit standard: ``notional x (base + slope x |qty|)`` for IM and MM."""
    im = 0.0
    mm = 0.0
    for n in range(len(qty)):
        size = abs(qty[n])
        price = mark[n]
        if size == 0.0 or np.isnan(price):
            im_pos[n] = 0.0
            mm_pos[n] = 0.0
            continue
        notional = size * price
        im_pos[n] = notional * (rates[0, n] + rates[1, n] * size)
        mm_pos[n] = notional * (rates[2, n] + rates[3, n] * size)
        im += im_pos[n]
        mm += mm_pos[n]
    return im, mm
