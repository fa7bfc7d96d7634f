"""Covariance of underlying returns for the ``correlated`` portfolio mode: fixed, or estimated from past bars.

Both give a daily covariance ``[U, U]`` for the requested underlyings at an instant ``when``; the
estimate uses only bars that closed at or before ``when`` (no look-ahead). Stress overlays replace
the correlations and keep the volatilities. A run config selects one with
``[regime] params = { cross_underlying = "correlated", covariance = "ewma", halflife_days = 11.2 }``
(``"fixed"``, the default, reads ``datasets/margin/covariance_btc_eth.json``); ``covariance_from_config``
turns those keys into the object, from the run's market.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pmsim.simulator.errors import ConfigError, RegimeError
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.paths import DATASETS

DEFAULT_COVARIANCE = DATASETS / "margin" / "covariance_btc_eth.json"
# RiskMetrics' daily decay 0.94 as a half-life: ln 0.5 / ln 0.94 = 11.2 days
RISKMETRICS_HALFLIFE_DAYS = float(np.log(0.5) / np.log(0.94))
COVARIANCES = ("fixed", "ewma")


@dataclass(frozen=True, slots=True)
class FixedCovariance:
    """Daily volatilities ``vol[U]`` and correlations ``corr[U, U]`` of named underlyings."""

    underlyings: tuple[str, ...]
    vol: np.ndarray
    corr: np.ndarray
    source: str = ""

    @classmethod
    def load(cls, path: str | Path = DEFAULT_COVARIANCE) -> FixedCovariance:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            names = tuple(doc["underlyings"])
            return cls(names, np.array(doc["daily_vol"], float), np.array(doc["corr"], float), doc["source"])
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise RegimeError(f"{path}: not a covariance file ({exc})") from exc

    def at(self, when: np.datetime64, underlyings: tuple[str, ...]) -> np.ndarray:
        index = _positions(self.underlyings, underlyings)
        vol = self.vol[index]
        return self.corr[np.ix_(index, index)] * np.outer(vol, vol)

    def describe(self) -> dict[str, object]:
        return {"kind": "fixed", "source": self.source}


@dataclass(frozen=True, eq=False)
class EwmaCovariance:
    """Exponentially weighted covariance of per-bar log returns, rescaled to one day.

    Parameters
    ----------
    times : [T] bar open instants (datetime64[ms]); closes : [T, U] closing prices of ``underlyings``;
    lam : EWMA decay (RiskMetrics 0.94); fallback : used until ``min_bars`` returns are known.
    """

    underlyings: tuple[str, ...]
    times: np.ndarray
    closes: np.ndarray
    fallback: FixedCovariance
    lam: float = 0.94
    min_bars: int = 30

    def __post_init__(self) -> None:
        from scipy.signal import lfilter

        returns = np.diff(np.log(self.closes), axis=0)
        outer = returns[:, :, None] * returns[:, None, :]
        smoothed = lfilter([1 - self.lam], [1, -self.lam], outer, axis=0)
        weight = 1 - self.lam ** np.arange(1, len(returns) + 1)
        bar_days = (
            float(np.median(np.diff(self.times.astype("datetime64[ms]").astype(np.int64)))) / 86_400_000
        )
        object.__setattr__(self, "_daily", smoothed / weight[:, None, None] / bar_days)
        # return r (row r of ``returns``) is known once bar r+1 has closed
        object.__setattr__(
            self, "_known_at", self.times[1:] + np.timedelta64(int(bar_days * 86_400_000), "ms")
        )

    @classmethod
    def from_market(
        cls, market: Market, halflife_days: float = RISKMETRICS_HALFLIFE_DAYS, min_bars: int = 30
    ) -> EwmaCovariance:
        """The estimate on each underlying's perpetual mark closes (a gap carries the last close)."""
        if not halflife_days > 0 or min_bars < 1:
            raise ConfigError("regime.halflife_days must be positive and regime.min_bars at least 1")
        columns = []
        for underlying in market.underlyings:
            perps = [
                k for k, i in enumerate(market.instruments) if i.underlying == underlying and not i.is_dated
            ]
            if not perps:
                raise ConfigError(f"covariance = 'ewma' needs a perpetual of {underlying} in the market")
            columns.append(perps[0])
        closes = market.mark_close[:, columns]
        for t in range(1, len(closes)):  # carry the last close over unlisted bars
            closes[t] = np.where(np.isnan(closes[t]), closes[t - 1], closes[t])
        lam = 0.5 ** (market.bar_seconds / 86_400 / halflife_days)
        return cls(market.underlyings, market.times, closes, FixedCovariance.load(), lam, min_bars)

    def at(self, when: np.datetime64, underlyings: tuple[str, ...]) -> np.ndarray:
        known = int(np.searchsorted(self._known_at, np.datetime64(when, "ms"), side="right"))
        if known < self.min_bars:
            return self.fallback.at(when, underlyings)
        index = _positions(self.underlyings, underlyings)
        return self._daily[known - 1][np.ix_(index, index)]

    def describe(self) -> dict[str, object]:
        return {"kind": "ewma", "decay_per_bar": self.lam, "min_bars": self.min_bars}


def covariance_from_config(params: Mapping[str, Any], market: Market) -> dict[str, Any]:
    """Regime parameters with ``covariance = "fixed" | "ewma"`` (+ ``halflife_days``, ``min_bars``) built."""
    out = dict(params)
    kind = out.pop("covariance", None)
    ewma = {key: out.pop(key) for key in ("halflife_days", "min_bars") if key in out}
    if kind is None and not ewma:
        return out
    if kind not in COVARIANCES:
        raise ConfigError.unknown("regime.covariance", str(kind), COVARIANCES)
    if kind == "fixed" and ewma:
        raise ConfigError(f"regime.{next(iter(ewma))} needs regime.covariance = 'ewma'")
    out["covariance"] = (
        FixedCovariance.load() if kind == "fixed" else EwmaCovariance.from_market(market, **ewma)
    )
    return out


def with_correlation(cov: np.ndarray, rho: float) -> np.ndarray:
    """The covariance with every off-diagonal correlation forced to ``rho`` (volatilities kept)."""
    vol = np.sqrt(np.diag(cov))
    corr = np.full(cov.shape, rho)
    np.fill_diagonal(corr, 1.0)
    return corr * np.outer(vol, vol)


def matrix_root(cov: np.ndarray) -> np.ndarray:
    """``R`` with ``R @ R.T = cov`` (symmetric square root; allows singular, e.g. correlation 1)."""
    values, vectors = np.linalg.eigh(cov)
    if values.min() < -1e-12 * max(1.0, values.max()):
        raise RegimeError(
            f"covariance is not positive semi-definite (eigenvalue {values.min():.3g}); "
            "a forced correlation below -1/(U-1) is impossible"
        )
    return vectors * np.sqrt(np.maximum(values, 0.0))


def _positions(known: tuple[str, ...], wanted: tuple[str, ...]) -> list[int]:
    missing = [u for u in wanted if u not in known]
    if missing:
        raise RegimeError(f"no covariance for underlying {missing[0]} (known: {', '.join(known)})")
    return [known.index(u) for u in wanted]
