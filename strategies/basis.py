"""Basis carry with rolls: long perp / short quarterly while the quarterly is rich, rolled before delivery.

The annualised basis of a dated contract at the close of bar t is
``(quarterly mark - perp mark) / perp mark x 365 / days to delivery`` (mark closes: margin and the
synthetic market's basis both live on the mark; last-trade closes would add the bid/ask bounce).
Per underlying and parameter set the strategy holds one contract, the *target contract* being the
nearest one that is liquid (listed for ``min_listed`` bars in a row: the data has no volume) and more
than ``roll_days`` from delivery. It

* enters long perp / short target contract when that contract's basis exceeds ``entry``, or (``reverse``)
  short perp / long when it falls below ``-reverse``;
* exits when the held contract's basis falls below ``exit`` (a reverse trade: rises above ``-exit``);
* rolls, within ``roll_days`` of delivery, into the next target contract in one decision: the near
  contract is bought back and the next one sold on the same bar, the perp leg stays on;
* exits both legs ``exit_days`` before delivery when there is nothing to roll into.

Both legs carry the same coin quantity, fixed at entry: ``fraction x budget x leverage / perp close``
per underlying. The basis and target contracts are computed once in ``prepare``; ``decide`` only moves a
small state machine over ``[S, U]`` at bar t, so every decision depends on bars up to t alone (the
engine calls ``decide`` bar by bar in order; ``prepare`` resets the state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.arrays import Market
from pmsim.strategies.base import BarView, StrategyEvent, as_param

DAY = np.timedelta64(86_400_000, "ms")
PARAMS = ("entry", "exit", "exit_days", "roll_days", "fraction", "leverage")


def listed_run(listed: np.ndarray) -> np.ndarray:
    """``[T, N]`` number of consecutive listed bars ending at bar t (0 where not listed)."""
    idx = np.arange(len(listed))[:, None]
    last_unlisted = np.maximum.accumulate(np.where(listed, -1, idx), axis=0)
    return idx - last_unlisted


def annualised_basis(market: Market) -> tuple[np.ndarray, np.ndarray]:
    """(``[T, N]`` annualised basis of each dated contract on mark closes, ``[T, N]`` days to delivery
    from each bar's close); NaN for perpetuals, unlisted bars and contracts with no perp of their own."""
    closes = market.times + np.timedelta64(int(market.bar_seconds * 1000), "ms")
    days = np.full((market.n_bars, len(market.instruments)), np.nan)
    basis = days.copy()
    perps = {i.underlying: k for k, i in enumerate(market.instruments) if not i.is_dated}
    for n, inst in enumerate(market.instruments):
        if not inst.is_dated:
            continue
        days[:, n] = (inst.expiry - closes) / DAY
        if inst.underlying not in perps:
            continue
        perp = market.mark_close[:, perps[inst.underlying]]
        with np.errstate(invalid="ignore", divide="ignore"):
            annual = (market.mark_close[:, n] - perp) / perp * 365.0 / days[:, n]
        basis[:, n] = np.where(market.listed[:, n] & (days[:, n] > 0), annual, np.nan)
    return basis, days


@dataclass(eq=False)
class BasisCarry:
    """Parameters (scalars or length-S lists): ``entry``, ``exit`` (annualised, e.g. 0.08 = 8 %/year),
    ``reverse`` (false: off; true: below ``-entry``; a number x > 0: below ``-x``; 0 in a list: off),
    ``exit_days``, ``roll_days`` (days before delivery), ``fraction``, ``leverage``.

    ``underlyings`` are traded on their perp (``{U}USDT``) and their quarterlies; ``min_listed`` is the
    number of listed bars in a row that make a contract liquid enough to enter or roll into.
    """

    entry: float | list[float] = 0.08
    exit: float | list[float] = 0.02
    reverse: bool | float | list[float] = False
    exit_days: float | list[float] = 2.0
    roll_days: float | list[float] = 7.0
    fraction: float | list[float] = 0.5
    leverage: float | list[float] = 1.0
    underlyings: tuple[str, ...] = ("BTC", "ETH")
    min_listed: int = 24
    name: str = "basis"
    events_: list[StrategyEvent] = field(init=False, repr=False, default_factory=list)

    def __post_init__(self) -> None:
        values = [getattr(self, p) for p in PARAMS]
        if not isinstance(self.reverse, bool):
            values.append(self.reverse)
        sizes = {np.size(v) for v in values} - {1}
        if len(sizes) > 1:
            raise ConfigError(
                f"basis parameters must have one length (or be scalars), got lengths {sorted(sizes)}"
            )
        self._n = sizes.pop() if sizes else 1
        for p in PARAMS:
            setattr(self, f"{p}_", as_param(getattr(self, p), self._n, p))
        if isinstance(self.reverse, bool):
            self.reverse_ = self.entry_.copy() if self.reverse else np.zeros(self._n)
        else:
            self.reverse_ = as_param(self.reverse, self._n, "reverse")
        if (self.exit_ >= self.entry_).any():
            raise ConfigError("basis: exit must lie below entry (the gap between them is the hysteresis)")
        if (self.reverse_ < 0).any() or ((self.reverse_ > 0) & (self.reverse_ <= self.exit_)).any():
            raise ConfigError("basis: reverse must be false, true or a threshold x > 0 with -x below -exit")
        if (self.exit_days_ <= 0).any() or (self.roll_days_ < self.exit_days_).any():
            raise ConfigError("basis: exit_days must be > 0 and roll_days >= exit_days")
        if (self.fraction_ < 0).any() or (self.leverage_ <= 0).any():
            raise ConfigError("basis: fraction must be >= 0 and leverage > 0")
        if not self.underlyings or self.min_listed < 1:
            raise ConfigError("basis: underlyings must name at least one coin and min_listed be >= 1")

    @property
    def n_configs(self) -> int:
        return self._n

    def prepare(self, market: Market) -> None:
        """Basis, days to delivery and each roll horizon's target contract ``[R, T, U]`` for all bars."""
        symbols = market.symbols
        missing = [u for u in self.underlyings if f"{u}USDT" not in symbols]
        if missing:
            raise ConfigError(f"strategy.params.underlyings: no perpetual {missing[0]}USDT in the market")
        self.perp_ = np.array([symbols.index(f"{u}USDT") for u in self.underlyings], dtype=np.intp)
        self.basis_, self.days_ = annualised_basis(market)
        liquid = listed_run(market.listed) >= self.min_listed
        horizons = np.unique(self.roll_days_)
        self.roll_index_ = np.searchsorted(horizons, self.roll_days_)
        target = np.full((len(horizons), market.n_bars, len(self.underlyings)), -1, dtype=np.intp)
        for u, coin in enumerate(self.underlyings):
            dated = [k for k, i in enumerate(market.instruments) if i.is_dated and i.underlying == coin]
            dated = np.array(sorted(dated, key=lambda k: market.instruments[k].expiry), dtype=np.intp)
            if dated.size == 0:
                raise ConfigError(f"strategy.params.underlyings: the market has no quarterly of {coin}")
            for r, horizon in enumerate(horizons):
                ok = liquid[:, dated] & (self.days_[:, dated] > horizon)
                target[r, :, u] = np.where(ok.any(axis=1), dated[np.argmax(ok, axis=1)], -1)
        self.target_ = target
        self.symbols_ = symbols
        self.n_instruments_ = len(symbols)
        shape = (self._n, len(self.underlyings))
        self.side_ = np.zeros(shape)  # +1 carry (long perp), -1 reverse, 0 flat
        self.held_ = np.full(shape, -1, dtype=np.intp)
        self.size_ = np.zeros(shape)  # coins per leg
        self.events_ = []

    def decide(self, view: BarView) -> np.ndarray:
        """Move each book's ``[S, U]`` state (side, held contract) by bar t's basis; targets of both legs."""
        t = view.t
        side, held = self.side_, self.held_
        target = self.target_[self.roll_index_, t]  # [S, U]
        basis, days = self.basis_[t], self.days_[t]
        b_held = np.where(held >= 0, basis[held], np.nan)
        b_target = np.where(target >= 0, basis[target], np.nan)
        d_held = np.where(held >= 0, days[held], np.inf)
        exit_, roll_days = self.exit_[:, None], self.roll_days_[:, None]
        held_on = side != 0
        by_basis = held_on & np.where(side > 0, b_held < exit_, b_held > -exit_)
        rolls = held_on & ~by_basis & (d_held <= roll_days) & (target >= 0) & (target != held)
        by_delivery = held_on & ~by_basis & ~rolls & (d_held <= self.exit_days_[:, None])
        budget = np.where(view.equity > 0, view.equity, 0.0)  # NaN equity: no budget
        with np.errstate(invalid="ignore", divide="ignore"):
            size = (self.fraction_ * budget * self.leverage_)[:, None] / view.close[-1, self.perp_]
        can_enter = ~held_on & (target >= 0) & (size > 0) & np.isfinite(size)  # no phantom zero trades
        long = can_enter & (b_target > self.entry_[:, None])
        reverse = self.reverse_[:, None]
        short = can_enter & (reverse > 0) & (b_target < -reverse)
        self._note("exit", by_basis, held, b_held, "exit {0} (basis) at {1:+.2%}")
        self._note("exit", by_delivery, held, b_held, "exit {0} (delivery) at {1:+.2%}")
        if rolls.any():
            for old, new in {(int(h), int(g)) for h, g in zip(held[rolls], target[rolls], strict=True)}:
                books = (rolls & (held == old) & (target == new)).any(axis=1)
                note = f"roll {self.symbols_[old]} -> {self.symbols_[new]} at {basis[new]:+.2%}"
                self.events_.append(StrategyEvent("roll", np.flatnonzero(books), float(basis[new]), note))
        self._note("entry", long, target, b_target, "entry carry {0} at {1:+.2%}")
        self._note("entry", short, target, b_target, "entry reverse {0} at {1:+.2%}")
        entering = long | short
        self.size_[:] = np.where(entering, size, self.size_)
        side[:] = np.where(by_basis | by_delivery, 0.0, np.where(long, 1.0, np.where(short, -1.0, side)))
        held[:] = np.where(side == 0, -1, np.where(rolls | entering, target, held))
        coins = side * self.size_
        targets = np.zeros((self._n, self.n_instruments_))
        targets[:, self.perp_] = coins
        s, u = np.nonzero(held >= 0)
        targets[s, held[s, u]] = -coins[s, u]
        return targets

    def _note(self, kind: str, books: np.ndarray, column: np.ndarray, basis: np.ndarray, text: str) -> None:
        """One event per contract among ``books[S, U]`` (the basis seen depends on contract and bar only)."""
        if not books.any():
            return
        for col in np.unique(column[books]):
            chosen = books & (column == col)
            seen = float(basis[chosen][0])
            rows = np.flatnonzero(chosen.any(axis=1))
            self.events_.append(StrategyEvent(kind, rows, seen, text.format(self.symbols_[col], seen)))

    def drain_events(self) -> list[StrategyEvent]:
        """Entries, exits and rolls decided since the last call (the engine logs them at the decision bar)."""
        out, self.events_ = self.events_, []
        return out

    def labels(self) -> list[str]:
        return [
            f"basis in={e:g} out={x:g} rev={r:g} exit={d:g}d roll={rd:g}d frac={f:g} lev={lv:g}"
            for e, x, r, d, rd, f, lv in zip(
                self.entry_,
                self.exit_,
                self.reverse_,
                self.exit_days_,
                self.roll_days_,
                self.fraction_,
                self.leverage_,
                strict=True,
            )
        ]

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name}
        out.update({p: getattr(self, f"{p}_").tolist() for p in PARAMS})
        out.update(reverse=self.reverse_.tolist(), underlyings=list(self.underlyings))
        out.update(min_listed=self.min_listed, basis_price="mark close")
        return out
