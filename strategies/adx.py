"""ADX trend following with conviction from the trend's strength (``ta.trend.ADXIndicator``).

Long when ADX > threshold and +DI > -DI, short when -DI > +DI (and ADX > threshold), flat otherwise.
Target notional per traded instrument = fraction x equity x leverage. Every parameter is an array over
the S parameter sets; ADX is computed once per distinct window and instrument, never per bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.numeric import zero_nan
from pmsim.strategies.base import BarView, as_param


@dataclass(eq=False)
class AdxTrend:
    """Parameters (scalars or length-S lists): ``window``, ``threshold``, ``fraction``, ``leverage``.

    ``symbols`` are the instruments traded (perpetuals by default).
    """

    window: float | list[float] = 14
    threshold: float | list[float] = 25.0
    fraction: float | list[float] = 0.5
    leverage: float | list[float] = 2.0
    symbols: tuple[str, ...] | None = None
    name: str = "adx"
    columns_: np.ndarray = field(init=False, repr=False, default_factory=lambda: np.zeros(0, dtype=np.intp))
    symbols_: tuple[str, ...] = field(init=False, repr=False, default=())  # traded, as resolved by prepare

    def __post_init__(self) -> None:
        sizes = {np.size(v) for v in (self.window, self.threshold, self.fraction, self.leverage)} - {1}
        if len(sizes) > 1:
            raise ConfigError(
                f"adx parameters must have one length (or be scalars), got lengths {sorted(sizes)}"
            )
        self._n = sizes.pop() if sizes else 1
        self.window_ = as_param(self.window, self._n, "window").astype(int)
        self.threshold_ = as_param(self.threshold, self._n, "threshold")
        self.fraction_ = as_param(self.fraction, self._n, "fraction")
        self.leverage_ = as_param(self.leverage, self._n, "leverage")
        if self.symbols is not None and not self.symbols:
            raise ConfigError(
                "strategy.params.symbols is empty; name a symbol, or leave it out to trade every perpetual"
            )
        if (self.window_ < 2).any() or (self.fraction_ < 0).any() or (self.leverage_ <= 0).any():
            raise ConfigError("adx: window must be >= 2, fraction >= 0 and leverage > 0")
        if ((self.threshold_ < 0) | (self.threshold_ > 100)).any():  # ADX lies in [0, 100]
            raise ConfigError(
                f"strategy.params.threshold must be in [0, 100] (ADX's range), got {self.threshold_.tolist()}"
            )

    @property
    def n_configs(self) -> int:
        return self._n

    def prepare(self, market: Market) -> None:
        """ADX, +DI and -DI for each distinct window on each traded instrument's last-trade bars."""
        from ta.trend import ADXIndicator

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
        self.symbols_ = tuple(symbols)
        try:
            self.columns_ = np.array([market.column(s) for s in symbols], dtype=np.intp)
        except ConfigError as exc:
            raise ConfigError(f"strategy.params.symbols: {exc}") from None
        windows = np.unique(self.window_)
        shape = (len(windows), market.n_bars, len(self.columns_))
        adx, plus, minus = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        for w, window in enumerate(windows):
            for j, col in enumerate(self.columns_):
                frame = pd.DataFrame(
                    {
                        "high": market.high[:, col],
                        "low": market.low[:, col],
                        "close": market.close[:, col],
                    }
                )
                ind = ADXIndicator(
                    frame["high"], frame["low"], frame["close"], window=int(window), fillna=True
                )
                adx[w, :, j] = ind.adx().to_numpy()
                plus[w, :, j] = ind.adx_pos().to_numpy()
                minus[w, :, j] = ind.adx_neg().to_numpy()
        self.window_index_ = np.searchsorted(windows, self.window_)
        self.adx_, self.plus_di_, self.minus_di_ = adx, plus, minus
        self.n_instruments_ = len(market.instruments)

    def signal(self, t: int) -> np.ndarray:
        """[S, Ntraded] direction in {-1, 0, 1} at the close of bar t."""
        adx = self.adx_[self.window_index_, t]
        plus = self.plus_di_[self.window_index_, t]
        minus = self.minus_di_[self.window_index_, t]
        trending = adx > self.threshold_[:, None]
        return np.where(trending, np.sign(plus - minus), 0.0)

    def decide(self, view: BarView) -> np.ndarray:
        price = view.close[-1, self.columns_]
        notional = self.fraction_ * np.maximum(view.equity, 0.0) * self.leverage_
        targets = np.zeros((self._n, self.n_instruments_))
        with np.errstate(invalid="ignore", divide="ignore"):
            qty = self.signal(view.t) * notional[:, None] / price
        targets[:, self.columns_] = zero_nan(qty)
        return targets

    def labels(self) -> list[str]:
        return [
            f"adx w={w} thr={t:g} frac={f:g} lev={lv:g}"
            for w, t, f, lv in zip(self.window_, self.threshold_, self.fraction_, self.leverage_, strict=True)
        ]

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "window": self.window_.tolist(),
            "threshold": self.threshold_.tolist(),
            "fraction": self.fraction_.tolist(),
            "leverage": self.leverage_.tolist(),
            "symbols": list(self.symbols_),
        }
