"""Compiled portfolio margin: ``PortfolioRegime.requirements`` of one book, term by term in its order.

Per underlying u (instruments in their order, empty positions skipped: they add exactly 0.0):
long/short sums, the basis term (``|sum signed x size|`` over dated futures for the scenario basis,
``sum |signed| x size`` for Deribit's gross roll shock), the worst price loss (per underlying over the
version's weighted moves, or once over the joint ellipse shocks when ``correlated``), then add-ons,
minimum charge, the SPAN credit and the anchor, exactly as ``margin/portfolio.py`` combines them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pmsim.simulator.kernel.errors import NotCompiled
from pmsim.simulator.kernel.jit import borrowing
from pmsim.simulator.margin.covariance import EwmaCovariance, FixedCovariance, matrix_root, with_correlation
from pmsim.simulator.margin.portfolio import PortfolioRegime
from pmsim.simulator.margin.presets import Preset
from pmsim.simulator.margin.scenarios import YEAR_DAYS, sphere_directions

jit = borrowing()
MS_PER_DAY = 86_400_000

SCRATCH_PER_UNDERLYING = 6  # price, basis, long, short, remaining delta, risk per delta


def portfolio_tables(regime: PortfolioRegime, instants: np.ndarray) -> tuple[dict[str, Any], np.ndarray, int]:
    """``MarginTables`` fields, the slot of each instant (one per distinct instant), the scratch length."""
    correlated = regime.cross_underlying == "correlated"
    if correlated and type(regime.covariance) not in (FixedCovariance, EwmaCovariance):
        raise NotCompiled(f"covariance {type(regime.covariance).__name__} has no compiled kernel")
    unique, slot = np.unique(instants, return_inverse=True)
    n_under = len(regime.underlyings_)
    params = regime.params_
    fields: dict[str, Any] = {
        "pm_version": versions_at(regime.preset, unique),
        "pm_cov": np.zeros(len(unique), dtype=np.int64),
        "pm_tau": _years_to_expiry(regime, unique),
        "pm_underlying": np.argmax(regime.member_, axis=1).astype(np.int64),
        "pm_dated": np.array(regime.dated_, dtype=np.bool_),
        "pm_n_underlyings": n_under,
        "pm_correlated": correlated,
        "pm_credit": bool(regime.cross_underlying == "span" and (regime.corr is None or regime.corr > 0)),
        "pm_credit_rate": float(regime.credit_rate or 0.0),
        "pm_moves": _padded([p.price_moves * p.price_weights for p in params], 0.0),
        "pm_charge_floors": _padded([p.charge_floors for p in params], 0.0),
        "pm_charge_widths": _padded([np.diff(np.append(p.charge_floors, np.inf)) for p in params], 0.0),
        "pm_charge_multipliers": _padded([p.charge_multipliers for p in params], 0.0),
        "pm_gross_basis": np.array([p.gross_basis for p in params], dtype=np.bool_),
        "pm_anchor_im": np.array([p.anchor == "im" for p in params], dtype=np.bool_),
    }
    for name in ("annualised_move", "min_move", "contingency_rate", "calendar_rate", "charge_rate", "factor"):
        fields[f"pm_{name}"] = np.array([getattr(p, name) for p in params], dtype=float)
    scan = n_under * fields["pm_moves"].shape[1]
    if correlated:
        fields["pm_cov"], fields["pm_root"] = _roots(regime, unique)
        fields["pm_directions"] = np.ascontiguousarray(sphere_directions(n_under))
        n_dirs = fields["pm_directions"].shape[1]
        scan = (n_under + 1) * n_dirs
    return fields, slot.astype(np.int64), SCRATCH_PER_UNDERLYING * n_under + scan


def _padded(rows: list[np.ndarray], fill: float) -> np.ndarray:
    """``[V, max len]`` with short rows padded by ``fill`` (a padding term adds exactly 0.0)."""
    out = np.full((len(rows), max(len(r) for r in rows)), fill)
    for v, row in enumerate(rows):
        out[v, : len(row)] = row
    return out


def versions_at(preset: Preset, instants: np.ndarray) -> np.ndarray:
    """``[S]`` ``preset.version_at(when)`` at every instant, in one search."""
    return np.maximum(np.searchsorted(preset.valid_from, instants, side="right") - 1, 0).astype(np.int64)


def _years_to_expiry(regime: PortfolioRegime, instants: np.ndarray) -> np.ndarray:
    """``[S, N]`` ``scenarios.years_to_expiry(instruments, when)`` at every instant, in one operation."""
    now = instants.astype(np.int64)[:, None]
    expiry = np.array(
        [i.expiry.astype("datetime64[ms]").astype(np.int64) if i.is_dated else 0 for i in regime.instruments]
    )
    return np.where(regime.dated_, np.maximum(expiry - now, 0) / MS_PER_DAY / YEAR_DAYS, 0.0)


def _roots(regime: PortfolioRegime, instants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(covariance index ``[S]``, ``radius x matrix_root`` ``[C, U, U]`` of each distinct covariance).

    Repeats the covariance lines of ``PortfolioRegime.scenarios``; the kernel multiplies by the
    directions itself, so a per-bar EWMA estimate costs ``U x U`` floats per bar, not ``N x D``.
    A fixed covariance is read once; the roots are ``matrix_root`` over the stack (one ``eigh`` call
    gives the same bits as one per matrix).
    """
    assert regime.covariance is not None
    fixed = type(regime.covariance) is FixedCovariance
    index: dict[bytes, int] = {}
    covs: list[np.ndarray] = []
    which = np.empty(len(instants), dtype=np.int64)
    for s, when in enumerate(instants[:1] if fixed else instants):
        cov = regime.covariance.at(when, regime.underlyings_) * regime.horizon_days
        if regime.corr is not None:
            cov = with_correlation(cov, regime.corr)
        which[s] = index.setdefault(cov.tobytes(), len(covs))
        if which[s] == len(covs):
            covs.append(cov)
    if fixed:
        which[:] = 0
    values, vectors = np.linalg.eigh(np.stack(covs))
    for c in np.flatnonzero(values.min(axis=-1) < -1e-12 * np.maximum(1.0, values.max(axis=-1))):
        matrix_root(covs[c])  # raises the reference's error
    roots = vectors * np.sqrt(np.maximum(values, 0.0))[:, None, :]
    return which, np.ascontiguousarray(regime.radius_ * roots)


@jit
def _signed(qty, mark, n):  # noqa: ANN001, ANN202
    """``qty x zero_nan(mark)`` of position n."""
    price = mark[n]
    if np.isnan(price):
        return 0.0
    return qty[n] * price


@borrowing(inline="always")  # inlined: only the slot's and version's arrays are passed on
def portfolio_row(t, s, qty, mark, work):  # noqa: ANN001, ANN201
    """(im, mm) of one book at slot ``s``; ``work`` is scratch of the length ``portfolio_tables`` gives."""
    v = t.pm_version[s]
    book = (t.pm_tau[s], t.pm_underlying, t.pm_dated, t.pm_n_underlyings)
    version = (t.pm_annualised_move[v], t.pm_min_move[v], t.pm_gross_basis[v], t.pm_moves[v])
    joint = (t.pm_correlated, t.pm_root, t.pm_cov[s], t.pm_directions)
    rates = (
        t.pm_contingency_rate[v],
        t.pm_calendar_rate[v],
        t.pm_charge_rate[v],
        t.pm_factor[v],
        t.pm_credit_rate,
    )
    flags = (t.pm_correlated, t.pm_credit, t.pm_anchor_im[v])
    charges = (t.pm_charge_floors[v], t.pm_charge_widths[v], t.pm_charge_multipliers[v])
    return _portfolio(book, version, joint, (rates, flags, charges), qty, mark, work)


@jit
def _portfolio(book, version, joint, combine, qty, mark, work):  # noqa: ANN001, ANN202
    """``portfolio_row`` given the slot's years to expiry and the version's parameters (see there)."""
    tau, underlying, dated, n_under = book
    annualised, min_move, gross_basis, moves = version
    correlated, root, cov, directions = joint
    price, basis = work[:n_under], work[n_under : 2 * n_under]
    long, short = work[2 * n_under : 3 * n_under], work[3 * n_under : 4 * n_under]
    scan = work[6 * n_under :]
    work[: 4 * n_under] = 0.0
    for n in range(len(qty)):
        signed = _signed(qty, mark, n)
        if signed == 0.0:
            continue
        u = underlying[n]
        if signed > 0.0:
            long[u] += signed
        else:
            short[u] += -signed
        if gross_basis:  # roll shock: perpetuals too, at the minimum move
            basis[u] += abs(signed) * max(annualised * tau[n], min_move)
        elif dated[n]:  # dated futures move by -b, 0, +b against the perpetual: worst is |sum|
            basis[u] += signed * max(annualised * tau[n], min_move)
    if not gross_basis:
        for u in range(n_under):
            basis[u] = abs(basis[u])
    if correlated:
        _joint_price(root[cov], directions, underlying, qty, mark, price, scan)
    else:
        _price_per_underlying(moves, underlying, qty, mark, price, scan)
    return _combine(combine, price, basis, long, short, work[4 * n_under : 6 * n_under])


@jit
def _price_per_underlying(moves, underlying, qty, mark, price, pnl):  # noqa: ANN001, ANN202
    """Worst loss per underlying over the weighted moves: ``max(-min(0, sum_n signed_n x move_p), 0)``."""
    n_moves = len(moves)
    pnl[: len(price) * n_moves] = 0.0
    for n in range(len(qty)):
        signed = _signed(qty, mark, n)
        if signed == 0.0:
            continue
        row = underlying[n] * n_moves
        for p in range(n_moves):
            pnl[row + p] += signed * moves[p]
    for u in range(len(price)):
        worst = 0.0
        for p in range(n_moves):
            worst = min(worst, pnl[u * n_moves + p])
        price[u] = max(-worst, 0.0)


@borrowing(inline="always")  # inlined: the tables are not pushed again
def _joint_price(root, directions, underlying, qty, mark, price, scratch):  # noqa: ANN001, ANN202
    """Worst loss of the whole book over the ellipse shocks ``(radius x root) @ directions`` (price[0])."""
    n_under, n_dirs = directions.shape
    shocks, pnl = scratch[: n_under * n_dirs], scratch[n_under * n_dirs : (n_under + 1) * n_dirs]
    for u in range(n_under):
        for d in range(n_dirs):
            acc = 0.0
            for w in range(n_under):
                acc += root[u, w] * directions[w, d]
            shocks[u * n_dirs + d] = acc
    pnl[:] = 0.0
    for n in range(len(qty)):
        signed = _signed(qty, mark, n)
        if signed == 0.0:
            continue
        row = underlying[n] * n_dirs
        for d in range(n_dirs):
            pnl[d] += signed * shocks[row + d]
    worst = 0.0
    for d in range(n_dirs):
        worst = min(worst, pnl[d])
    price[0] = max(-worst, 0.0)


@borrowing(inline="always")  # inlined: the tables are not pushed again
def _combine(parts, price, basis, long, short, credit_scratch):  # noqa: ANN001, ANN202
    """Add-ons, minimum charge (MR7), cross-underlying combination, SPAN credit and anchor."""
    (contingency, calendar, charge, factor, credit_rate), (correlated, credit, anchor_im), charges = parts
    loss, addon_sum, floor_sum = 0.0, 0.0, 0.0
    floors, widths, multipliers = charges
    for u in range(len(price)):
        gross = long[u] + short[u]
        addon = basis[u] + contingency * gross + calendar * min(long[u], short[u])
        raw = charge * gross
        floor = 0.0
        for j in range(len(floors)):
            floor += min(max(raw - floors[j], 0.0), widths[j]) * multipliers[j]
        if correlated:
            addon_sum += addon
            floor_sum += floor
        else:
            loss += max(price[u] + addon, floor)
    if correlated:
        loss = max(price[0] + addon_sum, floor_sum)
    elif credit:
        loss -= _intercommodity_credit(price, long, short, credit_rate, credit_scratch)
    loss = max(loss, 0.0)
    other = loss * factor
    if anchor_im:
        return loss, other
    return other, loss


@jit
def _intercommodity_credit(scan, long, short, credit_rate, scratch):  # noqa: ANN001, ANN202
    """``span.intercommodity_credit`` of one book with net deltas ``long - short``."""
    n_under = len(scan)
    remaining, per_delta = scratch[:n_under], scratch[n_under : 2 * n_under]
    for u in range(n_under):
        remaining[u] = abs(long[u] - short[u])
        per_delta[u] = scan[u] / remaining[u] if remaining[u] > 0 else 0.0
    credit = 0.0
    for i in range(n_under):
        for j in range(i + 1, n_under):
            di, dj = long[i] - short[i], long[j] - short[j]
            opposite = (di > 0 and dj < 0) or (di < 0 and dj > 0)
            spread = min(remaining[i], remaining[j]) if opposite else 0.0
            credit += credit_rate * (per_delta[i] + per_delta[j]) * spread
            remaining[i] -= spread
            remaining[j] -= spread
    return credit
