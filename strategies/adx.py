"""ADX trend following, sized by conviction, with hysteresis and stops (``ta.trend.ADXIndicator``, as
compiled in ``wilder.py``).

Signal per book and traded instrument at the close of bar t (ADX, +DI, -DI from ``ta``, computed once per
distinct window in ``prepare``):
- **hysteresis**: enter when ADX > ``entry`` on the side of the larger DI (+DI > -DI long, else short);
  stay in while ADX > ``exit`` (``exit`` <= ``entry``) and the DI side is unchanged; a DI flip with
  ADX > ``entry`` reverses, otherwise the book goes flat;
- **conviction**: target notional = side x ``fraction`` x ``leverage`` x budget x c(ADX) with
  ``c = min_size + (1 - min_size) * clip((ADX - entry) / (full_at - entry), 0, 1)`` (c = 1 when
  ``full_at`` <= ``entry``): ``min_size`` of full size at the entry threshold (and between exit and entry),
  full size from ADX = ``full_at`` up;
- **stops**, on closes (a missing bar carries the last close): the strategy remembers the close of the
  bar that decided an entry (the order fills at the next open; the strategy never reads the account) and
  the best close since. It goes flat when the loss from that entry close reaches ``stop_loss`` (a
  fraction, 0.05 = 5 %) or the close retraces ``trailing_stop`` from the best close; 0 turns a stop off.
  After a stop the same side is not re-entered until the signal resets (ADX <= ``exit`` or the DI side
  flips). Each stop is a ``StrategyEvent`` (kind ``stop``, note ``stop_loss SYMBOL`` /
  ``trailing_stop SYMBOL``, amount = the loss or retrace seen).

Budget = ``view.equity`` (the sleeve's budget); a side sized to nothing (no budget) counts as flat.
Defaults (``exit`` = ``full_at`` = ``entry``, no stops) reproduce the plain rule: fraction x leverage x
budget whenever ADX > entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.numeric import zero_nan
from pmsim.strategies.base import BarView, StrategyEvent
from pmsim.strategies.params import hysteresis, last_close, lockstep

Param = float | list[float]


@dataclass(eq=False)
class AdxTrend:
    """Parameters (scalars or length-S lists): ``window``, ``entry``, ``exit``, ``full_at``, ``min_size``,
    ``fraction``, ``leverage``, ``stop_loss``, ``trailing_stop`` (see the module docstring).

    ``symbols`` are the instruments traded (perpetuals by default).
    """

    window: Param = 14
    entry: Param = 25.0
    exit: Param | None = None  # default: entry (no hysteresis)
    full_at: Param | None = None  # default: entry (full size at once)
    min_size: Param = 0.25
    fraction: Param = 0.5
    leverage: Param = 2.0
    stop_loss: Param = 0.0
    trailing_stop: Param = 0.0
    symbols: tuple[str, ...] | None = None
    name: str = "adx"
    columns_: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0, dtype=np.intp))
    symbols_: tuple[str, ...] = field(init=False, repr=False, default=())  # traded, as resolved by prepare

    def __post_init__(self) -> None:
        exit_ = self.entry if self.exit is None else self.exit
        full_at = self.entry if self.full_at is None else self.full_at
        self._n, p = lockstep(
            "adx",
            window=self.window,
            entry=self.entry,
            exit=exit_,
            full_at=full_at,
            min_size=self.min_size,
            fraction=self.fraction,
            leverage=self.leverage,
            stop_loss=self.stop_loss,
            trailing_stop=self.trailing_stop,
        )
        self.window_ = p["window"].astype(int)
        self.entry_, self.exit_, self.full_at_ = p["entry"], p["exit"], p["full_at"]
        self.min_size_, self.fraction_, self.leverage_ = p["min_size"], p["fraction"], p["leverage"]
        self.stop_loss_, self.trailing_stop_ = p["stop_loss"], p["trailing_stop"]
        if (self.window_ < 2).any() or (self.fraction_ < 0).any() or (self.leverage_ <= 0).any():
            got = {k: getattr(self, f"{k}_").tolist() for k in ("window", "fraction", "leverage")}
            raise ConfigError(
                "adx: window must be >= 2, fraction >= 0 and leverage > 0 (strategy.params), got "
                + ", ".join(f"{k} = {v[0] if len(set(v)) == 1 else v}" for k, v in got.items())
            )
        if (self.exit_ > self.entry_).any() or (self.full_at_ < self.entry_).any():
            raise ConfigError("adx: need exit <= entry <= full_at (ADX levels)")
        if ((self.min_size_ < 0) | (self.min_size_ > 1)).any():
            raise ConfigError("adx: min_size is a fraction of full size, between 0 and 1")
        if (self.stop_loss_ < 0).any() or ((self.trailing_stop_ < 0) | (self.trailing_stop_ >= 1)).any():
            raise ConfigError("adx: stop_loss must be >= 0 and trailing_stop in [0, 1) (0 = off)")
        if self.symbols is not None and not self.symbols:
            raise ConfigError(
                "strategy.params.symbols is empty; name a symbol, or leave it out to trade every perpetual"
            )
        levels = np.concatenate([self.entry_, self.exit_, self.full_at_])
        if ((levels < 0) | (levels > 100)).any():  # ADX lies in [0, 100]
            raise ConfigError(
                "strategy.params entry, exit and full_at must be in [0, 100] (ADX's range), "
                f"got {levels.tolist()}"
            )

    @property
    def n_configs(self) -> int:
        return self._n

    def prepare(self, market: Market) -> None:
        """ADX, +DI and -DI for each distinct window on each traded instrument; the stop state reset."""
        longest = int(self.window_.max())
        if market.n_bars <= 2 * longest:
            raise ConfigError(
                f"adx window {longest} needs more than {2 * longest} bars; the market has {market.n_bars}"
            )
        symbols = (
            self.symbols
            if self.symbols is not None
            else tuple(market.symbols[k] for k in market.perpetual_columns())
        )
        try:
            self.columns_ = np.array([market.column(s) for s in symbols], dtype=np.intp)
        except ConfigError as exc:
            raise ConfigError(f"strategy.params.symbols: {exc}") from None
        windows = np.unique(self.window_)
        shape = (len(windows), market.n_bars, len(self.columns_))
        self.adx_, self.plus_di_, self.minus_di_ = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        for w, window in enumerate(windows):
            for j, col in enumerate(self.columns_):
                self.adx_[w, :, j], self.plus_di_[w, :, j], self.minus_di_[w, :, j] = adx_lines(
                    market, col, int(window)
                )
        self.window_index_ = np.searchsorted(windows, self.window_)
        self.symbols_ = tuple(market.symbols[k] for k in self.columns_)
        self.price_ = last_close(market, self.columns_)
        self.n_instruments_ = len(market.instruments)
        state = (self._n, len(self.columns_))
        self.side_, self.blocked_ = np.zeros(state), np.zeros(state)
        self.entry_price_, self.best_ = np.full(state, np.nan), np.full(state, np.nan)
        self._events: list[StrategyEvent] = []

    def lines(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """ADX and DI side (+1 / -1 / 0) ``[S, Ntraded]`` at the close of bar t."""
        plus = self.plus_di_[self.window_index_, t]
        minus = self.minus_di_[self.window_index_, t]
        return self.adx_[self.window_index_, t], np.sign(plus - minus)

    def conviction(self, adx: np.ndarray) -> np.ndarray:
        """The fraction of full size c(ADX) ``[S, Ntraded]`` (module docstring)."""
        span = (self.full_at_ - self.entry_)[:, None]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # a tiny span: ramp 1
            ramp = np.where(span > 0, np.clip((adx - self.entry_[:, None]) / span, 0.0, 1.0), 1.0)
        return self.min_size_[:, None] + (1.0 - self.min_size_[:, None]) * ramp

    def decide(self, view: BarView) -> np.ndarray:
        adx, side = self.lines(view.t)
        price = self.price_[view.t]
        held = self._stops(price)
        exit_ = self.exit_[:, None]
        # a stopped side waits for the signal to reset before it is entered again
        self.blocked_ = np.where((adx <= exit_) | (side != self.blocked_), 0.0, self.blocked_)
        new = hysteresis(held, side, adx, self.entry_[:, None], exit_)
        new = np.where((held == 0) & (new == self.blocked_), 0.0, new)
        budget = self.fraction_ * np.maximum(view.equity, 0.0) * self.leverage_
        with np.errstate(invalid="ignore", divide="ignore"):
            qty = zero_nan(new * self.conviction(adx) * budget[:, None] / price)
        new = np.where(qty != 0, new, 0.0)  # a side with no size (no budget, no price) is flat
        entered = (new != 0) & (new != held)
        self.entry_price_ = np.where(entered, price, self.entry_price_)
        self.best_ = np.where(entered, price, self.best_)
        self.side_ = new
        targets = np.zeros((self._n, self.n_instruments_))
        targets[:, self.columns_] = qty
        return targets

    def _stops(self, price: np.ndarray) -> np.ndarray:
        """The sides still held after this close's stop checks (stops logged, stopped sides blocked)."""
        held = self.side_
        with np.errstate(invalid="ignore"):
            self.best_ = np.where(held > 0, np.fmax(self.best_, price), np.fmin(self.best_, price))
            loss = held * (self.entry_price_ - price) / self.entry_price_
            retrace = held * (self.best_ - price) / self.best_
            limit, trail = self.stop_loss_[:, None], self.trailing_stop_[:, None]
            stop = (held != 0) & (limit > 0) & (loss >= limit)
            trailing = (held != 0) & ~stop & (trail > 0) & (retrace >= trail)
        self._log("stop_loss", stop, loss)
        self._log("trailing_stop", trailing, retrace)
        stopped = stop | trailing
        self.blocked_ = np.where(stopped, held, self.blocked_)
        return np.where(stopped, 0.0, held)

    def _log(self, note: str, hit: np.ndarray, amount: np.ndarray) -> None:
        for j in np.flatnonzero(hit.any(axis=0)):
            books = np.flatnonzero(hit[:, j])
            self._events.append(StrategyEvent("stop", books, amount[books, j], f"{note} {self.symbols_[j]}"))

    def drain_events(self) -> list[StrategyEvent]:
        """The stops decided since the last call (the engine logs them at the bar just decided)."""
        events, self._events = self._events, []
        return events

    def labels(self) -> list[str]:
        return [
            f"adx w={w} in={e:g} out={x:g} full={f:g} frac={fr:g} lev={lv:g}"
            + (f" sl={sl:g}" if sl else "")
            + (f" ts={ts:g}" if ts else "")
            for w, e, x, f, fr, lv, sl, ts in zip(
                self.window_,
                self.entry_,
                self.exit_,
                self.full_at_,
                self.fraction_,
                self.leverage_,
                self.stop_loss_,
                self.trailing_stop_,
                strict=True,
            )
        ]

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "window": self.window_.tolist(),
            "entry": self.entry_.tolist(),
            "exit": self.exit_.tolist(),
            "full_at": self.full_at_.tolist(),
            "min_size": self.min_size_.tolist(),
            "fraction": self.fraction_.tolist(),
            "leverage": self.leverage_.tolist(),
            "stop_loss": self.stop_loss_.tolist(),
            "trailing_stop": self.trailing_stop_.tolist(),
            "symbols": list(self.symbols_ or self.symbols or ()),  # as traded once prepared
        }


def adx_lines(market: Market, col: int, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``ta``'s ADX, +DI, -DI ``[T]`` over the instrument's life from its first listed bar (0 before it).

    A missing bar inside that life repeats the last close as its high, low and close, so the recursions
    never see NaN; ``ta`` only reads bars up to t for the value at t. Computed by ``wilder.adx_di``,
    the compiled port of ``ta.trend.ADXIndicator`` (equal to it value for value).
    """
    from pmsim.strategies.wilder import adx_di

    out = np.zeros((3, market.n_bars))
    listed = np.flatnonzero(market.listed[:, col])
    if listed.size == 0 or market.n_bars - listed[0] <= 2 * window:
        return out[0], out[1], out[2]
    first = int(listed[0])
    close = pd.Series(market.close[first:, col]).ffill()
    high = pd.Series(market.high[first:, col]).fillna(close)
    low = pd.Series(market.low[first:, col]).fillna(close)
    out[:, first:] = adx_di(high.to_numpy(float), low.to_numpy(float), close.to_numpy(float), int(window))
    return out[0], out[1], out[2]
