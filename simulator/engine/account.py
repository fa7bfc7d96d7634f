"""Account state of S books over N instruments, and the pure transitions that change it.

Everything is whole-array numpy over ``[S]`` and ``[S, N]``. The accounting identity holds after every
transition: ``wallet = deposits + realised - fees - funding + bankruptcy_loss`` (the insurance fund
covers a negative wallet; what it covered is the bankruptcy loss) and ``equity = wallet + upnl``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pmsim.simulator.numeric import zero_nan


@dataclass
class Account:
    """Mutable engine state. Only the engine's ``apply_*`` functions change it."""

    qty: np.ndarray  # [S, N] signed contracts
    entry: np.ndarray  # [S, N] average entry price (0 where flat)
    wallet: np.ndarray  # [S]
    deposits: np.ndarray  # [S]
    realised: np.ndarray  # [S]
    fees: np.ndarray  # [S] trading and clearance fees paid
    funding: np.ndarray  # [S] funding paid (negative: received)
    bankruptcy_loss: np.ndarray  # [S] losses beyond equity, absorbed by the insurance fund
    iso_wallet: np.ndarray  # [S, N] margin assigned to each position (isolated margin only)

    @classmethod
    def open(cls, wallet: np.ndarray, n_instruments: int) -> Account:
        wallet = np.asarray(wallet, dtype=float).copy()
        s = len(wallet)
        zeros = np.zeros(s)
        return cls(
            qty=np.zeros((s, n_instruments)),
            entry=np.zeros((s, n_instruments)),
            wallet=wallet,
            deposits=wallet.copy(),
            realised=zeros.copy(),
            fees=zeros.copy(),
            funding=zeros.copy(),
            bankruptcy_loss=zeros.copy(),
            iso_wallet=np.zeros((s, n_instruments)),
        )

    def upnl(self, mark: np.ndarray) -> np.ndarray:
        """[S] unrealised PnL at ``mark`` ([N] or [S, N]; NaN marks count only where qty is 0)."""
        return (self.qty * (zero_nan(mark) - self.entry)).sum(axis=-1)

    def equity(self, mark: np.ndarray) -> np.ndarray:
        return self.wallet + self.upnl(mark)


def apply_trades(account: Account, dq: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Trade ``dq[S, N]`` at ``price[S, N]``: average-entry accounting. Returns realised PnL ``[S, N]``.

    Closing part realises ``closed * (price - entry)``; an increase averages the entry; a flip opens
    the remainder at ``price``.
    """
    qty, entry = account.qty, account.entry
    new_qty = qty + dq
    reducing = (qty != 0) & (np.sign(dq) == -np.sign(qty))
    closed = np.where(reducing, np.sign(qty) * np.minimum(np.abs(dq), np.abs(qty)), 0.0)
    realised = closed * (zero_nan(price) - entry)
    same_side = (np.sign(new_qty) == np.sign(qty)) & (qty != 0)
    growing = same_side & (np.abs(new_qty) > np.abs(qty))
    with np.errstate(invalid="ignore", divide="ignore"):
        averaged = (qty * entry + dq * price) / new_qty
    new_entry = np.where(new_qty == 0, 0.0, np.where(same_side, np.where(growing, averaged, entry), price))
    account.qty = new_qty
    account.entry = zero_nan(new_entry)
    pnl = realised.sum(axis=-1)
    account.realised += pnl
    account.wallet += pnl
    return realised


def apply_fees(account: Account, fee: np.ndarray) -> None:
    """Charge ``fee[S]``."""
    account.fees += fee
    account.wallet -= fee


def apply_funding(account: Account, payment: np.ndarray) -> None:
    """Pay ``payment[S]`` of funding (negative: received)."""
    account.funding += payment
    account.wallet -= payment


def apply_insurance(account: Account) -> np.ndarray:
    """Reset negative wallets of flat accounts to zero; the covered amount is bankruptcy loss ``[S]``."""
    flat = ~(account.qty != 0).any(axis=-1)
    covered = np.where(flat & (account.wallet < 0), -account.wallet, 0.0)
    account.bankruptcy_loss += covered
    account.wallet += covered
    return covered
