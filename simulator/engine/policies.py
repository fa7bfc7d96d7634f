"""Liquidation policies: how a regime's breaches are found and settled inside the bar.

- ``AccountWide``: cross and portfolio margin. Equity and MM are evaluated at the 2^U mark corners;
  a breaching account is closed in full, or (``partial``) reduced first: cross steps positions down a
  tier at a time, portfolio margin scales the whole book (keeping hedges) until IM is restored.
- ``PerPosition``: isolated margin. Each position has its own isolated wallet (IM at entry + top-ups
  - its fees +/- its funding); a position whose wallet falls below its MM at its adverse extreme is
  closed alone, and its loss stops at that wallet (any excess is bankruptcy loss).
Both charge the clearance fee on the liquidated notional and record every liquidation as an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pmsim.simulator.engine.account import Account, apply_fees, apply_insurance, apply_trades
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.engine.liquidation import corner_prices, worst_corner
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.margin.cross import TieredRegime
from pmsim.simulator.margin.isolated import IsolatedRegime, isolated_breach
from pmsim.simulator.margin.reduction import cross_partial_reduction, pm_partial_reduction

MODES = ("full", "partial")


class LiquidationPolicy(Protocol):
    def collateral(self, account: Account, mark: np.ndarray) -> np.ndarray:
        """[S] what new initial margin may use: equity (account-wide) or the wallet (isolated)."""
        ...

    def on_fill(
        self,
        account: Account,
        before: np.ndarray,
        price: np.ndarray,
        fee: np.ndarray,
        regime: Regime,
        when: np.datetime64,
    ) -> None: ...

    def on_funding(self, account: Account, payment: np.ndarray) -> None: ...

    def liquidate(
        self,
        account: Account,
        regime: Regime,
        low: np.ndarray,
        high: np.ndarray,
        underlying_index: np.ndarray,
        when: np.datetime64,
        clearance_fee: float,
        bar: int,
        log: EventLog,
    ) -> np.ndarray: ...


def _close_at(
    account: Account,
    closing: np.ndarray,
    price: np.ndarray,
    clearance_fee: float,
    bar: int,
    log: EventLog,
    note: str,
) -> np.ndarray:
    """Trade ``closing[S, N]`` at ``price[S, N]``, charge the clearance fee, record; returns the fee [S, N]."""
    apply_trades(account, closing, price)
    fee = clearance_fee * np.abs(closing) * price
    apply_fees(account, fee.sum(axis=-1))
    log.add_mask("liquidation", bar, closing != 0, closing, price, fee, note=note)
    return fee


def _record_bankruptcy(account: Account, covered: np.ndarray, bar: int, log: EventLog) -> None:
    hit = covered > 0
    log.add(
        "bankruptcy",
        bar,
        np.flatnonzero(hit),
        -1,
        amount=covered[hit],
        note="loss beyond the margin, covered by the insurance fund",
    )


@dataclass(frozen=True)
class AccountWide:
    """Cross / portfolio margin: the whole account is liquidated when equity < MM at a corner."""

    mode: str = "full"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"account.liquidation must be one of {MODES}, not {self.mode!r}")

    def collateral(self, account: Account, mark: np.ndarray) -> np.ndarray:
        """Unrealised PnL backs new positions in cross and portfolio margin."""
        return account.equity(mark)

    def on_fill(
        self,
        account: Account,
        before: np.ndarray,
        price: np.ndarray,
        fee: np.ndarray,
        regime: Regime,
        when: np.datetime64,
    ) -> None:
        """Account-wide margin keeps no per-position state."""

    def on_funding(self, account: Account, payment: np.ndarray) -> None:
        """Account-wide margin keeps no per-position state."""

    def liquidate(
        self,
        account: Account,
        regime: Regime,
        low: np.ndarray,
        high: np.ndarray,
        underlying_index: np.ndarray,
        when: np.datetime64,
        clearance_fee: float,
        bar: int,
        log: EventLog,
    ) -> np.ndarray:
        has_position = (account.qty != 0).any(axis=-1)
        if not has_position.any():
            return has_position
        corners = corner_prices(low, high, underlying_index)
        worst, gap = worst_corner(account, regime, corners, when)
        breached = has_position & (gap < 0)
        if not breached.any():
            return breached
        price = corners[worst]  # [S, N]
        target = np.zeros_like(account.qty)
        if self.mode == "partial":
            equity = account.equity(price)
            target = self._reduced(account.qty, price, equity, regime, when, clearance_fee)
        closing = np.where(breached[:, None], target - account.qty, 0.0)
        _close_at(
            account,
            closing,
            price,
            clearance_fee,
            bar,
            log,
            note=f"{self.mode} liquidation: equity below MM at a mark corner",
        )
        _record_bankruptcy(account, apply_insurance(account), bar, log)
        return breached

    @staticmethod
    def _reduced(
        qty: np.ndarray,
        price: np.ndarray,
        equity: np.ndarray,
        regime: Regime,
        when: np.datetime64,
        fee_rate: float,
    ) -> np.ndarray:
        """Quantities after a partial liquidation: tier steps under brackets, a pro-rata cut otherwise."""
        if isinstance(regime, TieredRegime):
            return cross_partial_reduction(qty, price, equity, regime.arrays_at(when), fee_rate)
        return pm_partial_reduction(qty, price, equity, regime, when, fee_rate)


@dataclass(frozen=True)
class PerPosition:
    """Isolated margin: each position has its own wallet and is liquidated alone."""

    def collateral(self, account: Account, mark: np.ndarray) -> np.ndarray:
        """Isolated margin is assigned from the wallet; unrealised PnL of isolated positions backs nothing."""
        return account.wallet.copy()

    def on_fill(
        self,
        account: Account,
        before: np.ndarray,
        price: np.ndarray,
        fee: np.ndarray,
        regime: Regime,
        when: np.datetime64,
    ) -> None:
        """Release margin pro rata on reductions, top up to the IM of the enlarged position, pay its fees."""
        after = account.qty
        im_before, _ = _position_im(regime, before, price, when)
        im_after, _ = _position_im(regime, after, price, when)
        same_side = np.sign(after) == np.sign(before)
        with np.errstate(divide="ignore", invalid="ignore"):
            kept = np.where(same_side & (before != 0), np.minimum(np.abs(after) / np.abs(before), 1.0), 0.0)
        grown = np.where(same_side, np.maximum(im_after - im_before, 0.0), im_after)
        account.iso_wallet = np.where(after == 0, 0.0, account.iso_wallet * kept + grown - fee)

    def on_funding(self, account: Account, payment: np.ndarray) -> None:
        account.iso_wallet = np.where(account.qty != 0, account.iso_wallet - payment, account.iso_wallet)

    def liquidate(
        self,
        account: Account,
        regime: Regime,
        low: np.ndarray,
        high: np.ndarray,
        underlying_index: np.ndarray,
        when: np.datetime64,
        clearance_fee: float,
        bar: int,
        log: EventLog,
    ) -> np.ndarray:
        if not isinstance(regime, TieredRegime):
            raise ConfigError("per-position (isolated) liquidation needs a bracket regime such as 'isolated'")
        qty = account.qty
        breach = isolated_breach(qty, account.entry, account.iso_wallet, low, high, regime.arrays_at(when))
        if not breach.any():
            return breach.any(axis=-1)
        price = np.broadcast_to(np.where(qty > 0, low, high), qty.shape)
        # the position's loss stops at its isolated wallet: what it loses beyond is the insurance fund's
        remaining = account.iso_wallet + qty * (price - account.entry) - clearance_fee * np.abs(qty) * price
        covered = np.where(breach, np.maximum(-remaining, 0.0), 0.0).sum(axis=-1)
        _close_at(
            account,
            np.where(breach, -qty, 0.0),
            price,
            clearance_fee,
            bar,
            log,
            note="isolated position below its maintenance margin",
        )
        account.iso_wallet = np.where(breach, 0.0, account.iso_wallet)
        account.wallet += covered
        account.bankruptcy_loss += covered
        # a flat account left below zero (margin assigned beyond the wallet by price moves) is bankrupt too
        covered += apply_insurance(account)
        _record_bankruptcy(account, covered, bar, log)
        return breach.any(axis=-1)


def _position_im(
    regime: Regime, qty: np.ndarray, price: np.ndarray, when: np.datetime64
) -> tuple[np.ndarray, np.ndarray]:
    req = regime.requirements(qty, price, when)
    assert req.im_pos is not None and req.mm_pos is not None, (
        "isolated margin needs per-position requirements"
    )
    return req.im_pos, req.mm_pos


def policy_for(regime: Regime, mode: str = "full") -> LiquidationPolicy:
    """Isolated regimes liquidate per position; every other regime account-wide (full or partial)."""
    if isinstance(regime, IsolatedRegime):
        if mode != "full":
            raise ConfigError("isolated positions are liquidated in full; set account.liquidation = 'full'")
        return PerPosition()
    return AccountWide(mode)
