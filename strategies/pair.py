"""Pair hedge: long one perpetual, short the other when their price ratio strays from its recent mean.

With ``symbols = (A, B)`` and ``r_t = log(A_t / B_t)`` on closes, ``z_t = (r_t - mean) / std`` over the
last ``lookback`` values of r up to t (sample std). The spread side follows hysteresis: enter long A /
short B when z < -``entry`` (short A / long B when z > ``entry``), stay in while |z| > ``exit`` on the same
side, flat otherwise.

Sizing from the gross notional G = ``fraction`` x ``leverage`` x budget (``view.equity``), with hedge
ratio h: notional of A = G / (1 + h), notional of B = h x G / (1 + h), on opposite sides.
- ``hedge = "dollar"``: h = 1, equal and opposite notionals;
- ``hedge = "beta"``: h = beta, the OLS slope of A's log returns on B's over the last ``beta_window``
  returns up to t (cov / var; past bars only), so the book has no exposure to B's moves through A's beta.
  A non-positive or unknown beta gives no hedge, so no position (as does a budget of 0).
Every parameter may be a list over S; z and beta are computed once per distinct window in ``prepare``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.numeric import zero_nan
from pmsim.strategies.base import BarView
from pmsim.strategies.params import hysteresis, last_close, lockstep

Param = float | list[float]
Hedge = Literal["dollar", "beta"]


@dataclass(eq=False)
class PairHedge:
    """Parameters (scalars or length-S lists): ``lookback``, ``entry``, ``exit``, ``hedge``,
    ``beta_window``, ``fraction``, ``leverage``; ``symbols`` = (A, B) perpetuals."""

    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    lookback: Param = 168
    entry: Param = 2.0
    exit: Param = 0.5
    hedge: Hedge | list[Hedge] = "dollar"
    beta_window: Param = 168
    fraction: Param = 0.5
    leverage: Param = 2.0
    name: str = "pair"

    def __post_init__(self) -> None:
        if len(self.symbols) != 2:
            raise ConfigError(f"pair: symbols names two instruments (A, B), got {list(self.symbols)}")
        beta = np.asarray(self.hedge) == "beta"
        self._n, p = lockstep(
            "pair",
            lookback=self.lookback,
            entry=self.entry,
            exit=self.exit,
            beta=beta,
            beta_window=self.beta_window,
            fraction=self.fraction,
            leverage=self.leverage,
        )
        self.lookback_, self.beta_window_ = p["lookback"].astype(int), p["beta_window"].astype(int)
        self.entry_, self.exit_, self.beta_ = p["entry"], p["exit"], p["beta"].astype(bool)
        self.fraction_, self.leverage_ = p["fraction"], p["leverage"]
        if (self.lookback_ < 2).any() or (self.beta_window_ < 2).any():
            raise ConfigError("pair: lookback and beta_window must be >= 2 bars")
        if (self.exit_ < 0).any() or (self.exit_ > self.entry_).any():
            raise ConfigError("pair: need 0 <= exit <= entry (z-score levels)")
        if (self.fraction_ < 0).any() or (self.leverage_ <= 0).any():
            raise ConfigError("pair: fraction must be >= 0 and leverage > 0")

    @property
    def n_configs(self) -> int:
        return self._n

    def prepare(self, market: Market) -> None:
        """z of the log price ratio per distinct lookback and beta per distinct window, for every bar."""
        try:
            self.columns_ = np.array([market.column(s) for s in self.symbols], dtype=np.intp)
        except ConfigError as exc:
            raise ConfigError(f"strategy.params.symbols: {exc}") from None
        self.price_ = last_close(market, self.columns_)
        logs = np.log(pd.DataFrame(self.price_))
        ratio, returns = logs[0] - logs[1], logs.diff()
        lookbacks, windows = np.unique(self.lookback_), np.unique(self.beta_window_)
        self.z_ = np.array([(ratio - ratio.rolling(n).mean()) / ratio.rolling(n).std() for n in lookbacks])
        self.betas_ = np.array(
            [returns[0].rolling(n).cov(returns[1]) / returns[1].rolling(n).var() for n in windows]
        )
        self.lookback_index_ = np.searchsorted(lookbacks, self.lookback_)
        self.window_index_ = np.searchsorted(windows, self.beta_window_)
        self.n_instruments_ = len(market.instruments)
        self.side_ = np.zeros(self._n)

    def hedge_ratio(self, t: int) -> np.ndarray:
        """h ``[S]`` at the close of bar t: 1 (dollar) or the rolling beta (NaN where there is no hedge)."""
        beta = self.betas_[self.window_index_, t]
        return np.where(self.beta_, np.where(beta > 0, beta, np.nan), 1.0)

    def decide(self, view: BarView) -> np.ndarray:
        z = self.z_[self.lookback_index_, view.t]
        h = self.hedge_ratio(view.t)
        side = hysteresis(self.side_, -np.sign(z), np.abs(z), self.entry_, self.exit_)
        gross = self.fraction_ * self.leverage_ * np.maximum(view.equity, 0.0)
        self.side_ = np.where(np.isfinite(h) & (gross > 0), side, 0.0)  # no hedge or no budget: flat
        notional = np.stack([gross / (1 + h), -gross * h / (1 + h)], axis=1)
        targets = np.zeros((self._n, self.n_instruments_))
        with np.errstate(invalid="ignore", divide="ignore"):
            targets[:, self.columns_] = zero_nan(self.side_[:, None] * notional / self.price_[view.t])
        return targets

    def labels(self) -> list[str]:
        return [
            f"pair z{n}>{e:g}<{x:g} " + (f"beta{b}" if beta else "dollar") + f" frac={f:g} lev={lv:g}"
            for n, e, x, beta, b, f, lv in zip(
                self.lookback_,
                self.entry_,
                self.exit_,
                self.beta_,
                self.beta_window_,
                self.fraction_,
                self.leverage_,
                strict=True,
            )
        ]

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "symbols": list(self.symbols),
            "lookback": self.lookback_.tolist(),
            "entry": self.entry_.tolist(),
            "exit": self.exit_.tolist(),
            "hedge": ["beta" if b else "dollar" for b in self.beta_],
            "beta_window": self.beta_window_.tolist(),
            "fraction": self.fraction_.tolist(),
            "leverage": self.leverage_.tolist(),
        }
