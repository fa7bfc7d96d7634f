"""Liquidation policies: what backs new margin, and how a regime's breaches are found and settled.

The policies talk to the regime only through the ``Regime`` protocol (``requirements``,
``liquidates``, ``partial_reduction``); ``policy_for`` picks one by ``regime.liquidates``.

- ``AccountWide``: cross, portfolio and standard margin. New IM is backed by equity. Equity and MM are
  evaluated at the 2^U mark corners; a breaching account is closed in full, or (``partial``) reduced by
  the regime's ``partial_reduction`` (cross: a tier at a time; portfolio: the whole book pro rata) and
  checked again on the rest of the way to the corner.
- ``PerPosition``: isolated margin. Each position has its own isolated wallet (IM at entry + top-ups
  - its fees +/- its funding); new IM is backed by the wallet minus the isolated wallets already assigned
  (never counted twice). A position whose wallet falls below its MM at its adverse extreme is closed
  alone, and its loss stops at that wallet (any excess is bankruptcy loss).

Where a breach is settled (``price``): ``threshold`` (default) closes at the price where equity met MM
on the path from the bar's open to the adverse corner, or at the open if the bar gapped through;
``extreme`` closes at the corner itself (the older rule: the trader's loss is the same whenever the
account is wiped out, but bankruptcy and partial-liquidation losses are overstated). Both charge the
clearance fee on the liquidated notional at that price and record every liquidation as an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pmsim.simulator.engine.account import Account, apply_fees, apply_insurance, apply_trades
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.engine.fills import BacksMargin
from pmsim.simulator.engine.liquidation import PRICE_RULES, corner_prices, crossing, path_price, worst_corner
from pmsim.simulator.errors import ConfigError, RegimeError
from pmsim.simulator.margin.base import Regime, Requirements
from pmsim.simulator.numeric import zero_nan

MODES = ("full", "partial")
PARTIAL_PASSES = 4  # partial liquidations per bar before the rest of a still-breaching book is closed


class LiquidationPolicy(BacksMargin, Protocol):
    """How a regime's breaches are found and settled; the IM check's part is ``fills.BacksMargin``."""

    def describe(self) -> str:
        """One line for the run's notes: how breaches are found and where they are settled."""
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
        open_: np.ndarray,
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
) -> None:
    """Trade ``closing[S, N]`` at ``price[S, N]``, charge the clearance fee, record the events."""
    apply_trades(account, closing, price)
    fee = clearance_fee * np.abs(closing) * price
    apply_fees(account, fee.sum(axis=-1))
    log.add_mask("liquidation", bar, closing != 0, closing, price, fee, note=note)


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


def _check_price_rule(price: str) -> None:
    if price not in PRICE_RULES:
        raise ConfigError(f"account.liquidation_price must be one of {PRICE_RULES}, not {price!r}")


def _settled(price: str) -> str:
    if price == "extreme":
        return "liquidations fill at the bar's adverse mark extreme (liquidation_price = 'extreme')"
    return (
        "liquidations fill where equity met MM on the path from the bar's mark open to its adverse "
        "extreme, or at the open if the bar gapped through (liquidation_price = 'threshold')"
    )


def _where(price: str, gapped: np.ndarray) -> np.ndarray:
    """Event notes [S] saying where each liquidation was settled."""
    if price == "extreme":
        return np.full(gapped.shape, "at the bar's mark extreme", dtype=object)
    return np.where(gapped, "at the open (gapped through)", "where equity met MM").astype(object)


@dataclass(frozen=True)
class AccountWide:
    """Cross / portfolio margin: the whole account is liquidated when equity < MM at a corner."""

    mode: str = "full"
    price: str = "threshold"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"account.liquidation must be one of {MODES}, not {self.mode!r}")
        _check_price_rule(self.price)

    def describe(self) -> str:
        return f"account-wide {self.mode} liquidation at the 2^U mark corners; {_settled(self.price)}"

    def margin_of(
        self, qty: np.ndarray, price: np.ndarray, mark: np.ndarray, regime: Regime, when: np.datetime64
    ) -> np.ndarray:
        return regime.requirements(qty, mark, when).im

    def free_margin(
        self,
        account: Account,
        reduced: np.ndarray,
        price: np.ndarray,
        mark: np.ndarray,
        regime: Regime,
        when: np.datetime64,
    ) -> np.ndarray:
        """Unrealised PnL backs new positions in cross and portfolio margin: equity - IM of what stays."""
        return account.equity(mark) - self.margin_of(reduced, price, mark, regime, when)

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
        open_: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        underlying_index: np.ndarray,
        when: np.datetime64,
        clearance_fee: float,
        bar: int,
        log: EventLog,
    ) -> np.ndarray:
        hit = np.zeros(len(account.wallet), dtype=bool)
        if not (account.qty != 0).any():
            return hit
        corners = zero_nan(corner_prices(low, high, underlying_index))
        start = np.broadcast_to(zero_nan(open_), account.qty.shape)
        passes = PARTIAL_PASSES if self.mode == "partial" and self.price == "threshold" else 1
        for step in range(passes):
            worst, gap = worst_corner(account, regime, corners, when)
            breached = (account.qty != 0).any(axis=-1) & (gap < 0)
            if not breached.any():
                break
            hit |= breached
            corner = corners[worst]  # [S, N]
            price, gapped = (
                (corner, np.zeros_like(breached))
                if self.price == "extreme"
                else _account_threshold(account, regime, start, corner, breached, when)
            )
            target = np.zeros_like(account.qty)
            if self.mode == "partial" and (passes == 1 or step < passes - 1):  # the last pass closes
                target = regime.partial_reduction(
                    account.qty, price, account.equity(price), when, clearance_fee
                )
            closing = np.where(breached[:, None], target - account.qty, 0.0)
            notes = _where(self.price, gapped)
            for note in np.unique(notes[breached]):
                rows = breached & (notes == note)
                _close_at(
                    account,
                    np.where(rows[:, None], closing, 0.0),
                    price,
                    clearance_fee,
                    bar,
                    log,
                    note=f"{self.mode} liquidation {note}: equity below MM at a mark corner",
                )
            start = np.where(breached[:, None], price, start)
        _record_bankruptcy(account, apply_insurance(account), bar, log)
        return hit


def _account_threshold(
    account: Account,
    regime: Regime,
    start: np.ndarray,
    corner: np.ndarray,
    breached: np.ndarray,
    when: np.datetime64,
) -> tuple[np.ndarray, np.ndarray]:
    """(prices ``[S, N]`` where equity met MM on the way start -> corner, ``gapped[S]``) for breached books.

    Equity is linear in the move for a fixed book and MM piecewise linear, so the crossing is solved
    along the path (``crossing``); a book already below MM at ``start`` gapped through and closes there.
    """
    rows = np.flatnonzero(breached)
    qty, entry, wallet = account.qty[rows], account.entry[rows], account.wallet[rows]
    begin, end = start[rows], corner[rows]

    def gap(fraction: np.ndarray) -> np.ndarray:
        price = path_price(begin, end, fraction[:, None])
        equity = wallet + np.einsum("rn,rn->r", qty, price - entry)
        return equity - regime.requirements(qty, price, when).mm

    at_start, at_end = gap(np.zeros(len(rows))), gap(np.ones(len(rows)))
    gapped_rows = at_start < 0
    fraction = np.where(gapped_rows, 0.0, crossing(gap, np.maximum(at_start, 0.0), at_end))
    price = np.array(start, dtype=float)
    price[rows] = path_price(begin, end, fraction[:, None])
    gapped = np.zeros(len(breached), dtype=bool)
    gapped[rows] = gapped_rows
    return price, gapped


@dataclass(frozen=True)
class PerPosition:
    """Isolated margin: each position has its own wallet and is liquidated alone."""

    price: str = "threshold"

    def __post_init__(self) -> None:
        _check_price_rule(self.price)

    def describe(self) -> str:
        return f"isolated positions liquidated one by one; {_settled(self.price)}"

    def margin_of(
        self, qty: np.ndarray, price: np.ndarray, mark: np.ndarray, regime: Regime, when: np.datetime64
    ) -> np.ndarray:
        """The IM assigned at the fill price (what ``on_fill`` moves into isolated wallets)."""
        return regime.requirements(qty, price, when).im

    def free_margin(
        self,
        account: Account,
        reduced: np.ndarray,
        price: np.ndarray,
        mark: np.ndarray,
        regime: Regime,
        when: np.datetime64,
    ) -> np.ndarray:
        """Wallet - isolated wallets still assigned after the reductions (+ their realised PnL), so
        that new IM on top of ``reduced`` is backed only by money no position holds.
        """
        qty = account.qty
        with np.errstate(divide="ignore", invalid="ignore"):
            kept = np.where(qty != 0, np.abs(reduced) / np.abs(qty), 0.0)
        realised = np.einsum("sn,sn->s", qty - reduced, zero_nan(price) - account.entry)
        assigned = np.einsum("sn,sn->s", account.iso_wallet, kept)
        return account.wallet + realised - assigned

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
        im_before = _per_position(regime, regime.requirements(before, price, when)).im_pos
        im_after = _per_position(regime, regime.requirements(after, price, when)).im_pos
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
        open_: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        underlying_index: np.ndarray,
        when: np.datetime64,
        clearance_fee: float,
        bar: int,
        log: EventLog,
    ) -> np.ndarray:
        qty, entry, wallet = account.qty, account.entry, account.iso_wallet

        def gap(price: np.ndarray) -> np.ndarray:
            """[S, N] isolated wallet + PnL - MM of each position at ``price[S, N]``."""
            return (
                wallet
                + qty * (price - entry)
                - _per_position(regime, regime.requirements(qty, price, when)).mm_pos
            )

        adverse = zero_nan(np.where(qty > 0, low, high))
        at_end = gap(adverse)
        breach = (qty != 0) & (at_end < 0)
        if not breach.any():
            return breach.any(axis=-1)
        gapped = np.zeros_like(breach)
        price = adverse
        if self.price == "threshold":
            start = np.broadcast_to(zero_nan(open_), qty.shape)
            at_start = gap(start)
            gapped = breach & (at_start < 0)
            fraction = crossing(
                lambda f: gap(path_price(start, adverse, f)),
                np.where(breach, np.maximum(at_start, 0.0), 0.0),
                np.where(breach, at_end, -1.0),
            )
            price = np.where(gapped, start, path_price(start, adverse, fraction))
        # the position's loss stops at its isolated wallet: what it loses beyond is the insurance fund's
        remaining = wallet + qty * (price - entry) - clearance_fee * np.abs(qty) * price
        covered = np.where(breach, np.maximum(-remaining, 0.0), 0.0).sum(axis=-1)
        closing = np.where(breach, -qty, 0.0)
        notes = _where(self.price, gapped)
        for note in np.unique(notes[breach]):
            _close_at(
                account,
                np.where(breach & (notes == note), closing, 0.0),
                price,
                clearance_fee,
                bar,
                log,
                note=f"isolated position below its maintenance margin, closed {note}",
            )
        account.iso_wallet = np.where(breach, 0.0, account.iso_wallet)
        account.wallet += covered
        account.bankruptcy_loss += covered
        # a flat account left below zero (margin assigned beyond the wallet by price moves) is bankrupt too
        covered += apply_insurance(account)
        _record_bankruptcy(account, covered, bar, log)
        return breach.any(axis=-1)


def _per_position(regime: Regime, req: Requirements) -> Requirements:
    if req.im_pos is None or req.mm_pos is None:
        raise RegimeError(
            f"regime {regime.name!r} liquidates per position but returns no per-position requirements"
        )
    return req


def policy_for(regime: Regime, mode: str = "full", price: str = "threshold") -> LiquidationPolicy:
    """Per position where ``regime.liquidates == "position"`` (isolated); otherwise account-wide."""
    if regime.liquidates == "position":
        if mode != "full":
            raise ConfigError("isolated positions are liquidated in full; set account.liquidation = 'full'")
        return PerPosition(price)
    return AccountWide(mode, price)
