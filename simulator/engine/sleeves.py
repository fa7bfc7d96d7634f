"""Sleeves: G strategies on one account, and the ledger that attributes the account's trades to them.

Each bar every sleeve decides on its own view (``equity`` = its budget, ``qty`` = its own positions);
the account trades the sum of their targets after the account-wide allocator rules and the fill-time
IM check. The ledger then splits what the account did, reading the event log (``EventLog.since``):

- **fills**: each sleeve asked ``target - own qty``. Per book and instrument, asks on opposite sides
  **cross internally**: they are matched against each other first, at the account's fill price for that
  bar (the open with the slippage of the account's order; the open itself where the account did not
  trade), with no fee. The executed order then goes to the sleeves on its side in proportion to what
  each asked, so a cut or a rejection scales every asking sleeve alike. Where a rule traded beyond the
  asks (a stop, ``hold_at``), the rest is shared in proportion to the positions it reduces. The fee of
  the executed order is shared by the sleeves that traded on its side, in proportion to their fills.
- **liquidations and expiry**: every sleeve's position in the instrument is scaled by the account's
  factor (closed in full, or reduced pro rata), at the liquidation or settlement price; the clearance
  fee is shared in proportion to the quantities closed.
- **funding**: each sleeve pays on its own position (``qty_g x mark x rate``).
- **bankruptcy loss** (the insurance fund's cover, wherever the account took it): shared in proportion
  to the sleeves' realised losses so far (equally when none lost).
Per-sleeve average-entry accounting (``apply_trades`` on a ``[G x S, N]`` account) gives each sleeve's
realised PnL; its PnL is ``realised + upnl - fees - funding + bankruptcy share``. The account is never
changed by the ledger (its fills are the fills of one strategy asking the summed target); after every
step the rounding between its positions and the sleeves' sum goes to the largest holder, so positions
sum to the account's to the last bit of that holding (sleeves that offset each other cannot always sum
to every float exactly), PnL, fees and funding to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pmsim.simulator.engine.account import Account, apply_trades
from pmsim.simulator.engine.budgets import Budget
from pmsim.simulator.engine.events import Chunk, EventLog
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.numeric import zero_nan
from pmsim.strategies.base import BarView, EmitsEvents, Strategy

RECONCILE_PASSES = 4


@dataclass(eq=False)
class Sleeve:
    name: str
    strategy: Strategy
    budget: Budget


@dataclass(eq=False)
class Sleeves:
    """The sleeves of a run, decided in order (a free-capital budget reads the targets decided before)."""

    sleeves: tuple[Sleeve, ...]
    n_configs: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sleeves)

    def prepare(self, market: Market) -> None:
        for sleeve in self.sleeves:
            sleeve.strategy.prepare(market)

    def decide(
        self,
        market: Market,
        t: int,
        equity: np.ndarray,
        holdings: np.ndarray,
        regime: Regime,
        tradable: np.ndarray,
        guard: np.ndarray,
        log: EventLog,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(targets ``[G, S, N]``, budgets ``[G, S]``) at the close of bar ``t``.

        ``holdings[G, S, N]`` are the sleeves' own positions; strategy events are logged with the sleeve.
        """
        n_books, n_inst = self.n_configs, len(market.instruments)
        targets = np.zeros((len(self.sleeves), n_books, n_inst))
        budgets = np.zeros((len(self.sleeves), n_books))
        mark, when = market.mark_close[t], market.times[t]
        for g, sleeve in enumerate(self.sleeves):
            budget = sleeve.budget.size(equity, targets[:g], regime, mark, when, guard, t, log, sleeve.name)
            budgets[g] = np.broadcast_to(budget, (n_books,))
            view = BarView.at(market, t, budgets[g], holdings[g])
            targets[g] = np.where(tradable, sleeve.strategy.decide(view), 0.0)
            if isinstance(sleeve.strategy, EmitsEvents):
                for event in sleeve.strategy.drain_events():
                    note = f"{sleeve.name}: {event.note}"
                    log.add(
                        event.kind, t, event.books, -1, amount=event.amount, note=note, sleeve=sleeve.name
                    )
        return targets, budgets


class Ledger:
    """Per-sleeve positions, entries, realised PnL, fees, funding and bankruptcy share of G sleeves."""

    def __init__(self, n_sleeves: int, n_configs: int, n_instruments: int) -> None:
        self.shape = (n_sleeves, n_configs, n_instruments)
        self.book = Account.open(np.zeros(n_sleeves * n_configs), n_instruments)
        self.asks = np.zeros(self.shape)
        self.cursor = 0

    @property
    def qty(self) -> np.ndarray:
        """[G, S, N] each sleeve's positions."""
        return self.book.qty.reshape(self.shape)

    def totals(self, name: str) -> np.ndarray:
        """[G, S] a cumulative account field per sleeve (``realised``, ``fees``, ``funding``, ...)."""
        return getattr(self.book, name).reshape(self.shape[:2])

    def pnl(self, mark: np.ndarray) -> np.ndarray:
        """[G, S] realised + unrealised - fees - funding + bankruptcy share."""
        upnl = self.book.upnl(mark).reshape(self.shape[:2])
        return (
            self.totals("realised")
            + upnl
            - self.totals("fees")
            - self.totals("funding")
            + self.totals("bankruptcy_loss")
        )

    def state(self, regime: Regime, mark: np.ndarray, when: np.datetime64) -> dict[str, np.ndarray]:
        """``[G, S]`` per-sleeve PnL, fees, funding and the IM of each sleeve's positions alone."""
        return {
            "pnl": self.pnl(mark),
            "fees": self.totals("fees"),
            "funding": self.totals("funding"),
            "im": regime.requirements(self.book.qty, mark, when).im.reshape(self.shape[:2]),  # rows alone
        }

    def ask(self, targets: np.ndarray) -> None:
        """Remember what each sleeve wants traded at the next open: ``targets[G, S, N] - own qty``."""
        self.asks = targets - self.qty

    def absorb(
        self, log: EventLog, account: Account, fill_step: tuple[np.ndarray, np.ndarray] | None
    ) -> None:
        """Attribute the events logged since the last call (``fill_step = (tradable[N], open[N])``: fills).

        Afterwards the sleeves' positions sum to the account's (``_reconcile``).
        """
        chunks = log.since(self.cursor)
        self.cursor = log.cursor
        if fill_step is not None:
            fill = next((c for c in chunks if c.kind == "fill"), None)
            self._fill(fill, *fill_step)
        for chunk in chunks:
            if chunk.kind in ("liquidation", "expiry"):
                self._scale(chunk)
            elif chunk.kind == "funding":
                self._funding(chunk)
        self._reconcile(account.qty)
        self._bankruptcy(account.bankruptcy_loss - self.totals("bankruptcy_loss").sum(axis=0))

    def _reconcile(self, qty: np.ndarray) -> None:
        """Give the rounding left between the account's positions and the sleeves' sum to the largest
        holder, until the sum is exact or a pass changes nothing more."""
        g, s, n = self.shape
        rows = np.arange(s)[:, None], np.arange(n)[None, :]
        for _ in range(RECONCILE_PASSES):
            rest = qty - self.qty.sum(axis=0)
            if not rest.any():
                return
            largest = np.argmax(np.abs(self.qty), axis=0)
            own = self.qty.copy()
            own[largest, *rows] += rest
            self.book.qty = own.reshape(g * s, n)

    def _grid(self, chunk: Chunk, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape[1:])
        out[chunk.config, chunk.column] = values
        return out

    def _trade(self, dq: np.ndarray, price: np.ndarray, fee: np.ndarray, total: np.ndarray) -> None:
        """Book ``dq[G, S, N]`` at ``price[S, N]``; ``fee[S, N]`` goes to those trading with ``total``."""
        g, s, n = self.shape
        apply_trades(self.book, dq.reshape(g * s, n), np.tile(price, (g, 1)))
        if fee.any():
            along = np.maximum(dq * np.sign(total), 0.0)
            share = _shares(along, np.abs(dq))
            charged = (share * fee).sum(axis=-1).reshape(g * s)
            self.book.fees += charged
            self.book.wallet -= charged

    def _fill(self, chunk: Chunk | None, tradable: np.ndarray, open_: np.ndarray) -> None:
        dq, price, fee = np.zeros(self.shape[1:]), np.broadcast_to(zero_nan(open_), self.shape[1:]), 0.0
        if chunk is not None:
            dq = self._grid(chunk, chunk.qty)
            price = np.where(dq != 0, self._grid(chunk, chunk.price), price)
            fee = self._grid(chunk, chunk.amount)
        asks = np.where(tradable, self.asks, 0.0)
        self.asks = np.zeros(self.shape)
        moved = split_fill(dq, asks, self.qty)
        if moved.any():
            self._trade(moved, price, np.asarray(fee) * np.ones(self.shape[1:]), dq)

    def _scale(self, chunk: Chunk) -> None:
        closing = self._grid(chunk, chunk.qty)
        total = self.qty.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(total != 0, closing / total, 0.0)
        # closed in full (to rounding, after earlier partial passes): no sleeve keeps a residue
        closed = np.isclose(closing, -total, rtol=1e-12, atol=0.0) & (total != 0)
        dq = np.where(closed, -self.qty, self.qty * factor)
        fee = self._grid(chunk, chunk.amount) if chunk.kind == "liquidation" else np.zeros(self.shape[1:])
        self._trade(dq, self._grid(chunk, chunk.price), fee, closing)

    def _funding(self, chunk: Chunk) -> None:
        payment = self._grid(chunk, chunk.amount)
        total = self.qty.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            part = np.where(total != 0, self.qty / total, 0.0) * payment
        paid = part.sum(axis=-1).reshape(-1)
        self.book.funding += paid
        self.book.wallet -= paid

    def _bankruptcy(self, covered: np.ndarray) -> None:
        """Share the insurance fund's cover ``[S]`` the sleeves have not been given yet."""
        if not covered.any():
            return
        lost = np.maximum(-(self.totals("realised") - self.totals("fees") - self.totals("funding")), 0.0)
        share = _shares(lost, np.ones(self.shape[:2]))
        self.book.bankruptcy_loss += (share * covered).reshape(-1)


def split_fill(dq: np.ndarray, asks: np.ndarray, hold: np.ndarray) -> np.ndarray:
    """[G, S, N] each sleeve's part of the account's executed order ``dq[S, N]`` (see the module docstring).

    ``asks[G, S, N]``: what each sleeve asked; ``hold[G, S, N]``: what each holds before the fill.
    On the executed order's side the sleeves asked ``W`` in all, on the other ``A``; the order ``X``
    leaves ``min(A, W - X)`` to cross, so the order's side fills ``(crossed + X) / W`` of each ask and
    the other side ``crossed / A``. Where ``X > W`` the rest goes to the positions it reduces.
    """
    side = np.where(dq < 0, -1.0, 1.0)
    directed = asks * side
    along, against = np.maximum(directed, 0.0).sum(axis=0), np.maximum(-directed, 0.0).sum(axis=0)
    size = np.abs(dq)
    feasible = size <= along
    crossed = np.where(feasible, np.minimum(against, along - size), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f_along = np.where(along > 0, np.minimum((crossed + size) / along, 1.0), 0.0)
        f_against = np.where(against > 0, crossed / against, 0.0)
    filled = asks * np.where(directed > 0, f_along, f_against)
    rest = np.where(feasible, 0.0, size - along) * side
    if not rest.any():
        return filled
    after = hold + filled
    return filled + _shares(np.maximum(-after * side, 0.0), np.abs(after)) * rest


def _shares(weights: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Normalise ``weights[G, ...]`` over the sleeves; where all are 0 use ``fallback``, then equal shares."""
    out = np.full(weights.shape, 1.0 / weights.shape[0])
    for w in (fallback, weights):  # the later one wins where it has weight
        total = w.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(total > 0, w / total, out)
    return out
