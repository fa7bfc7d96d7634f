"""The bar loop: six steps per bar, in the fixed order of docs/concepts.md, over S books in lockstep.

1. fills at the open (orders decided at the previous close; slippage, taker fee, IM check);
2. funding instants in the bar, paid at mark;
3. intrabar risk at the 2^U mark corners (liquidation where equity met MM, clearance fee, bankruptcy loss);
4. expiry: dated futures whose last bar this is settle at their settlement price;
5. mark to market at the close; the regime's IM and MM; record;
6. decide: each sleeve's strategy sees data up to the close on its own view (its budget, its positions);
   the allocator shapes the sum of their targets for the next open.
With more than one sleeve a ledger (``sleeves.py``) attributes every fill, funding payment, liquidation
and settlement to the sleeves after each step, and the series gain per-sleeve columns.
A Python loop runs over bars; inside it everything is whole-array numpy over ``[S, N]``, and every
product sums each book's row alone, so a batch of S books equals S separate runs bit for bit.
A bar missing inside an instrument's history carries its last mark (``gaps.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from pmsim.simulator.engine.account import Account, apply_funding, apply_insurance, apply_trades
from pmsim.simulator.engine.budgets import Budget
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.engine.fills import MIN_ORDER, apply_fills
from pmsim.simulator.engine.gaps import DEFERRED, Marks
from pmsim.simulator.engine.policies import LiquidationPolicy, policy_for
from pmsim.simulator.engine.recorder import Recorder
from pmsim.simulator.engine.sleeves import Ledger, Sleeve, Sleeves
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.margin.stress import shock_distance
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.metrics import buffer_of, mur_of
from pmsim.simulator.numeric import zero_nan
from pmsim.strategies.base import BarView, Strategy


class Allocates(Protocol):
    """Turns strategy targets into traded targets (see ``simulator.allocator``)."""

    def allocate(
        self, targets: np.ndarray, view: BarView, regime: Regime, bar: int, log: EventLog
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class Costs:
    """Trading frictions: slippage (fraction of price), clearance fee (fraction of liquidated notional)."""

    slippage: float = 0.0001
    clearance_fee: float = 0.005


@dataclass(frozen=True)
class ShockProbe:
    """Record, every ``every`` bars, the smallest multiple of the joint move ``direction[N]`` that
    liquidates."""

    direction: np.ndarray
    every: int = 24


@dataclass
class Simulation:
    """What a finished simulation hands to the run writer."""

    series: pd.DataFrame
    events: pd.DataFrame
    account: Account
    notes: tuple[str, ...] = ()
    ledger: Ledger | None = None  # the sleeves' positions and PnL (runs with more than one sleeve)


def simulate(
    market: Market,
    regime: Regime,
    strategy: Strategy | Sleeves,
    allocator: Allocates,
    wallet: float | np.ndarray,
    costs: Costs = Costs(),
    progress: Callable[[int], None] | None = None,
    policy: LiquidationPolicy | None = None,
    probe: ShockProbe | None = None,
) -> Simulation:
    """Replay ``market`` for ``n_configs`` books starting with ``wallet`` USDT each.

    ``strategy`` is one strategy (one sleeve with the whole equity as budget) or the run's sleeves.
    ``policy`` settles breaches (default: per position for isolated regimes, account-wide otherwise).
    """
    policy = policy if policy is not None else policy_for(regime)
    book = (
        strategy
        if isinstance(strategy, Sleeves)
        else Sleeves((Sleeve(strategy.name, strategy, Budget()),), strategy.n_configs)
    )
    n_configs, n_inst = book.n_configs, len(market.instruments)
    account = Account.open(np.broadcast_to(np.asarray(wallet, dtype=float), (n_configs,)), n_inst)
    names = book.names if len(book.names) > 1 else ()
    ledger = Ledger(len(names), n_configs, n_inst) if names else None
    log, recorder = EventLog(), Recorder(market.n_bars, n_configs, n_inst, names)
    book.prepare(market)
    decided_at = 0
    taker_fee = np.array([i.taker_fee for i in market.instruments])
    underlying_index = market.underlying_index
    bar_length = np.timedelta64(int(market.bar_seconds * 1000), "ms")
    expiring = {
        int(t): np.flatnonzero(market.expiry_bar == t)
        for t in np.unique(market.expiry_bar[market.expiry_bar >= 0])
    }
    target = np.zeros((n_configs, n_inst))
    # prices with NaN (not listed) as 0, once: unlisted instruments are held in zero quantity;
    # inside an instrument's history a missing bar carries its last mark instead
    marks = Marks.of(market)
    mark_open, mark_low, mark_high, mark_close = marks.open, marks.low, marks.high, marks.close
    open_ = zero_nan(market.open)
    funding_rate = zero_nan(market.funding_rate)

    for t in range(market.n_bars):
        opened, closed = market.times[t], market.times[t] + bar_length
        listed = market.listed[t]
        # 1. fills at the open (none in a gapped instrument: its orders wait for a traded bar)
        deferred = marks.gap[t] & (np.abs(target - account.qty) >= MIN_ORDER)
        log.add_mask("rejection", t, deferred, target - account.qty, np.nan, 0.0, note=DEFERRED)
        fills = apply_fills(
            account,
            target,
            open_[t],
            mark_open[t],
            listed,
            taker_fee,
            costs.slippage,
            regime,
            opened,
            t,
            log,
            policy,
        )
        if fills is not None:
            policy.on_fill(account, fills.before, fills.price, fills.fee, regime, opened)
        apply_insurance(account)
        if ledger is not None:
            ledger.absorb(log, account, (listed & ~marks.gap[t], open_[t]))
        # 2. funding at mark
        due = market.funding_due[t] & (account.qty != 0)
        if due.any():
            payment = np.where(due, account.qty * mark_open[t] * funding_rate[t], 0.0)
            apply_funding(account, payment.sum(axis=-1))
            policy.on_funding(account, payment)
            log.add_mask("funding", t, due, account.qty, mark_open[t], payment)
        # 3. intrabar risk on mark extremes
        policy.liquidate(
            account,
            regime,
            mark_open[t],
            mark_low[t],
            mark_high[t],
            underlying_index,
            opened,
            costs.clearance_fee,
            t,
            log,
        )
        # 4. expiry settlement
        if t in expiring:
            _settle(account, market, expiring[t], t, log)
        if ledger is not None:
            ledger.absorb(log, account, None)
        # 5. mark to market
        mark = mark_close[t]
        upnl = account.upnl(mark)
        equity = account.wallet + upnl
        req = regime.requirements(account.qty, mark, closed)
        distance = np.full(n_configs, np.nan)
        if probe is not None and probe.every and t % probe.every == 0:
            distance = shock_distance(
                account.qty, account.entry, account.wallet, mark, regime, closed, probe.direction
            )
        recorder.record(
            t,
            account.qty * mark,
            equity=equity,
            wallet=account.wallet,
            upnl=upnl,
            im=req.im,
            mm=req.mm,
            mur=mur_of(req.im, equity),
            buffer=buffer_of(equity, req.mm),
            free=equity - req.im,
            realised=account.realised,
            fees=account.fees,
            funding=account.funding,
            bankruptcy_loss=account.bankruptcy_loss,
            deposits=account.deposits,
            shock_distance=distance,
        )
        # 6. decide and allocate for the next open
        budgets = np.full((len(names), n_configs), np.nan)
        if t + 1 < market.n_bars:
            tradable = market.listed[t + 1] | marks.gap[t + 1]
            guard, decided_at = log.guarded(decided_at, n_configs), log.cursor
            holdings = ledger.qty if ledger is not None else account.qty[None]
            targets, budgets = book.decide(market, t, equity, holdings, regime, tradable, guard, log)
            view = BarView.at(market, t, equity, account.qty)
            target = allocator.allocate(targets.sum(axis=0), view, regime, t, log)
            if ledger is not None:
                ledger.ask(targets)
        if ledger is not None:
            sleeves = ledger.state(regime, mark, closed)
            recorder.record_sleeves(t, ledger.qty * mark, budget=budgets, **sleeves)
        if progress is not None:
            progress(1)

    return Simulation(
        recorder.series(market.times, market.symbols),
        log.table(market.times, market.symbols),
        account,
        (*marks.notes, policy.describe()),
        ledger,
    )


def _settle(account: Account, market: Market, columns: np.ndarray, t: int, log: EventLog) -> None:
    """Close dated futures at their settlement price (the mark close where no settlement price is known)."""
    price = market.settlement[columns]
    price = np.where(np.isnan(price), market.mark_close[t, columns], price)
    settle_price = np.zeros(len(market.instruments))
    settle_price[columns] = price
    closing = np.zeros_like(account.qty)
    closing[:, columns] = -account.qty[:, columns]
    held = closing != 0
    if not held.any():
        return
    realised = apply_trades(account, closing, np.broadcast_to(settle_price, account.qty.shape))
    account.iso_wallet[:, columns] = 0.0
    log.add_mask("expiry", t, held, closing, settle_price, realised, note="delivery settlement")
    apply_insurance(account)
