"""Positions mode's policy: the reference regime's policy with liquidation observed, never taken.

The book runs once. ``Observer`` delegates the IM check and the per-position bookkeeping to the
reference regime's policy, so fills are what that regime allows, but at the intrabar-risk step it only
copies the account state (the positions, entries and wallet the engine's step 3 sees) and closes
nothing. Every compared regime is then judged on those states (``evaluate.py``), so positions, fills and
PnL are identical across regimes by construction. Isolated regimes also need each position's isolated
wallet (IM at entry - its fees -/+ its funding), which depends on the regime: ``Observer`` keeps one
shadow set of wallets per isolated regime, moved by the isolated policy's own ``on_fill``/``on_funding``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pmsim.simulator.engine.account import Account
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.engine.policies import LiquidationPolicy, PerPosition
from pmsim.simulator.margin.base import Regime


@dataclass
class RiskState:
    """The account at bar ``bar``'s intrabar-risk step: ``qty``, ``entry`` ``[S, N]``, ``wallet`` ``[S]``,
    and the shadow isolated wallets ``[S, N]`` by regime label."""

    bar: int
    qty: np.ndarray
    entry: np.ndarray
    wallet: np.ndarray
    iso_wallets: dict[str, np.ndarray]


@dataclass
class _Wallets:
    """What ``PerPosition.on_fill``/``on_funding`` read and write: the positions and isolated wallets."""

    qty: np.ndarray
    iso_wallet: np.ndarray


@dataclass
class Observer:
    """``inner``'s margin rules without its liquidations; ``shadows`` maps labels to isolated regimes."""

    inner: LiquidationPolicy
    shadows: dict[str, Regime] = field(default_factory=dict)
    states: list[RiskState] = field(default_factory=list)
    _wallets: dict[str, np.ndarray] = field(default_factory=dict)
    _isolated: PerPosition = field(default_factory=PerPosition)

    def describe(self) -> str:
        return (
            "positions mode: liquidations are not taken; each regime's would-be liquidations at the 2^U "
            f"mark corners are recorded as would_liquidate events (reference policy: {self.inner.describe()})"
        )

    def margin_of(
        self, qty: np.ndarray, price: np.ndarray, mark: np.ndarray, regime: Regime, when: np.datetime64
    ) -> np.ndarray:
        return self.inner.margin_of(qty, price, mark, regime, when)

    def free_margin(
        self,
        account: Account,
        reduced: np.ndarray,
        price: np.ndarray,
        mark: np.ndarray,
        regime: Regime,
        when: np.datetime64,
    ) -> np.ndarray:
        return self.inner.free_margin(account, reduced, price, mark, regime, when)

    def on_fill(
        self,
        account: Account,
        before: np.ndarray,
        price: np.ndarray,
        fee: np.ndarray,
        regime: Regime,
        when: np.datetime64,
    ) -> None:
        self.inner.on_fill(account, before, price, fee, regime, when)
        for label, shadow in self.shadows.items():
            wallets = _Wallets(account.qty, self._wallet(label, account))
            self._isolated.on_fill(wallets, before, price, fee, shadow, when)  # type: ignore[arg-type]
            self._wallets[label] = wallets.iso_wallet

    def on_funding(self, account: Account, payment: np.ndarray) -> None:
        self.inner.on_funding(account, payment)
        for label in self.shadows:
            wallets = _Wallets(account.qty, self._wallet(label, account))
            self._isolated.on_funding(wallets, payment)  # type: ignore[arg-type]
            self._wallets[label] = wallets.iso_wallet

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
        """Copy the state step 3 sees; close nothing."""
        self.states.append(
            RiskState(
                bar,
                account.qty.copy(),
                account.entry.copy(),
                account.wallet.copy(),
                {label: self._wallet(label, account).copy() for label in self.shadows},
            )
        )
        return np.zeros(len(account.wallet), dtype=bool)

    def _wallet(self, label: str, account: Account) -> np.ndarray:
        return self._wallets.setdefault(label, np.zeros_like(account.qty))
