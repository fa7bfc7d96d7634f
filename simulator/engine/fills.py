"""Fills at the bar open: slippage, taker fees and the initial-margin check on new risk.

Reducing a position is always allowed. The risk-increasing part of an order is cut so that IM after the
fill stays within equity (IM is piecewise linear in size, so the cut interpolates between the reduced
book and the full order), or rejected when no new risk fits; every cut and rejection is an event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pmsim.simulator.engine.account import Account, apply_fees, apply_trades
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.numeric import zero_nan

MIN_ORDER = 1e-12


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
    collateral: np.ndarray,
) -> Fills | None:
    """Move positions toward ``target[S, N]`` at ``open_price[N]`` (+ slippage against the order).

    ``collateral[S]`` is what may back initial margin (equity, or the wallet under isolated margin).
    """
    dq = np.where(listed, target - account.qty, 0.0)
    dq[np.abs(dq) < MIN_ORDER] = 0.0
    if not dq.any():
        return None
    before = account.qty
    reduce, increase = split_order(account.qty, dq)
    if increase.any():
        equity = collateral
        price_full = zero_nan(open_price) * (1 + slippage * np.sign(dq))
        fee_full = (taker_fee * np.abs(dq) * price_full).sum(axis=-1)
        im_reduced = regime.requirements(account.qty + reduce, mark, when).im
        im_full = regime.requirements(account.qty + dq, mark, when).im
        room = equity - fee_full - im_reduced
        extra = im_full - im_reduced
        with np.errstate(all="ignore"):
            scale = np.where(im_full <= equity - fee_full, 1.0, np.clip(room / extra, 0.0, 1.0))
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


@dataclass(frozen=True)
class Fills:
    """What a bar's fills did: quantities before, fill prices and fees, all ``[S, N]``."""

    before: np.ndarray
    price: np.ndarray
    fee: np.ndarray
