"""Fills at the bar open: slippage, taker fees and the initial-margin check on new risk.

Reducing a position is always allowed. The risk-increasing part of an order is cut so that the IM it
commits fits what backs it (equity, or under isolated margin the wallet no position holds), or rejected
when no new risk fits; every cut and rejection is an event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pmsim.simulator.engine.account import Account, apply_fees, apply_trades
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.numeric import zero_nan

MIN_ORDER = 1e-12
FIT_STEPS = 40


def split_order(qty: np.ndarray, dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reducing part, increasing part) of ``dq`` against current ``qty``; both ``[S, N]``."""
    opposite = np.sign(dq) == -np.sign(qty)
    reduce = np.where(opposite, np.sign(dq) * np.minimum(np.abs(dq), np.abs(qty)), 0.0)
    return reduce, dq - reduce


def apply_fills(
    account: Account,
    target: np.ndarray,
    open_price: np.ndarray,
    mark: np.ndarray,
    listed: np.ndarray,
    taker_fee: np.ndarray,
    slippage: float,
    regime: Regime,
    when: np.datetime64,
    bar: int,
    log: EventLog,
    margin: BacksMargin,
) -> Fills | None:
    """Move positions toward ``target[S, N]`` at ``open_price[N]`` (+ slippage against the order).

    ``margin`` (the liquidation policy) measures the IM a book commits and what backs it: equity under
    account-wide margin, the unassigned wallet under isolated margin.
    """
    dq = np.where(listed, target - account.qty, 0.0)
    dq[np.abs(dq) < MIN_ORDER] = 0.0
    if not dq.any():
        return None
    before = account.qty
    reduce, increase = split_order(account.qty, dq)
    if increase.any():
        price_full = zero_nan(open_price) * (1 + slippage * np.sign(dq))
        fee_full = (taker_fee * np.abs(dq) * price_full).sum(axis=-1)
        reduced = account.qty + reduce

        def extra(scale: np.ndarray) -> np.ndarray:
            """[S] IM committed beyond the reduced book when ``scale`` of the increase is traded."""
            book = reduced + scale[:, None] * increase
            return margin.margin_of(book, price_full, mark, regime, when) - committed

        committed = margin.margin_of(reduced, price_full, mark, regime, when)
        room = margin.free_margin(account, reduced, price_full, mark, regime, when) - fee_full
        scale = _largest_fit(extra, room)
        wants_more = np.abs(increase).sum(axis=-1) > 0
        cut = wants_more & (scale < 1) & (scale > 0)
        rejected = wants_more & (scale <= 0)
        log.add("cut", bar, np.flatnonzero(cut), -1, amount=scale[cut], note="initial margin check")
        log.add("rejection", bar, np.flatnonzero(rejected), -1, amount=0.0, note="initial margin check")
        dq = reduce + scale[:, None] * increase
    traded = dq != 0
    price = zero_nan(open_price) * (1 + slippage * np.sign(dq))
    fee = taker_fee * np.abs(dq) * price
    apply_trades(account, dq, price)
    apply_fees(account, fee.sum(axis=-1))
    log.add_mask("fill", bar, traded, dq, price, fee)
    return Fills(before, price, fee)


def _largest_fit(extra: Callable[[np.ndarray], np.ndarray], room: np.ndarray) -> np.ndarray:
    """Largest ``scale`` in [0, 1] ``[S]`` with ``extra(scale) <= room``.

    IM is piecewise linear in size, so interpolating between the reduced book and the full order is
    exact within a tier; where a tier's lower maximum leverage makes the interpolated scale overshoot,
    bisection (on those books only, rows being independent) finds the fitting scale.
    """
    full = extra(np.ones(len(room)))
    with np.errstate(all="ignore"):
        scale = np.where(full <= room, 1.0, np.clip(room / full, 0.0, 1.0))
    partial = (scale > 0) & (scale < 1)
    over = partial & (extra(scale) > room) if partial.any() else partial
    if over.any():
        low, high = np.zeros(len(room)), scale.copy()
        for _ in range(FIT_STEPS):
            mid = (low + high) / 2
            fits = extra(mid) <= room
            low, high = np.where(fits, mid, low), np.where(fits, high, mid)
        scale = np.where(over, low, scale)
    return scale


class BacksMargin(Protocol):
    """The part of a liquidation policy the IM check needs (``simulator.engine.policies``)."""

    def margin_of(
        self, qty: np.ndarray, price: np.ndarray, mark: np.ndarray, regime: Regime, when: np.datetime64
    ) -> np.ndarray:
        """[S] initial margin book ``qty`` commits (filled at ``price``, marked at ``mark``)."""
        ...

    def free_margin(
        self,
        account: Account,
        reduced: np.ndarray,
        price: np.ndarray,
        mark: np.ndarray,
        regime: Regime,
        when: np.datetime64,
    ) -> np.ndarray:
        """[S] margin left for new risk once the account holds ``reduced`` (before fees)."""
        ...


@dataclass(frozen=True)
class Fills:
    """What a bar's fills did: quantities before, fill prices and fees, all ``[S, N]``."""

    before: np.ndarray
    price: np.ndarray
    fee: np.ndarray
