"""The bundled default market: synthetic hourly BTC/ETH perpetuals and quarterlies, deterministic by seed.

This module owns the generator behind ``pmsim demo`` and the tests. Every number it uses comes from
``datasets/calibration.json`` (measured from real Binance history by
:mod:`simulator.market.calibration`); the only free choices are the start prices and the model shape:

* log returns = GARCH(1,1) volatility x bivariate Student-t innovations (one shared chi-square, so
  the two coins share tail events; truncated at the jump threshold, as the fit excluded jump hours)
  + Poisson jumps, common (same sign, correlated sizes) and idiosyncratic, with log-normal sizes;
  no drift in log price (the median path is flat); jumps do not feed the GARCH variance, as in the fit;
* intrabar highs and lows are Brownian-bridge excursions of the bar's own volatility, scaled so the
  median wick matches the measured wick-to-sigma ratio; open = previous close;
* mark = last x exp(spread), spread an AR(1) at the measured size and persistence, with wicks shrunk
  by the measured mark/last wick ratio (so last-trade wicks usually exceed mark wicks);
* funding at 00/08/16 UTC is an AR(1) per 8h settlement around the measured mean, clipped at the
  largest measured |rate|;
* quarterly = perp x (1 + annualised basis x years to delivery), the basis an hourly AR(1) around the
  measured level (one per underlying, shared by its two listed quarterlies), so the basis converges
  to zero at delivery; quarterlies list when the previous-but-one delivers (current + next quarter).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pmsim.simulator.errors import ConfigError, DataError
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.market.instruments import Instrument, dated_symbol, instrument_for, quarterly_deliveries
from pmsim.simulator.paths import DATASETS

DEFAULT_CALIBRATION = DATASETS / "calibration.json"
UNDERLYINGS = ("BTC", "ETH")
START_PRICE = np.array([42_000.0, 2_300.0])  # roughly Binance's perp closes on 2024-01-01
HOUR = np.timedelta64(3_600_000, "ms")
YEAR = np.timedelta64(365 * 24 * 3_600_000, "ms")
HOURS_PER_YEAR = 24 * 365
FUNDING_EVERY_H = 8
LISTING_LOOKAROUND = np.timedelta64(400, "D")


def load_calibration(path: Path = DEFAULT_CALIBRATION) -> dict[str, Any]:
    """Read a calibration file written by ``python -m simulator.market.calibration``."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            "calibration file not found (regenerate it with python -m simulator.market.calibration)",
            file=path,
        ) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"calibration file is not JSON: {exc.msg}", file=path, row=exc.lineno) from None


def _value(cal: dict[str, Any], *keys: str) -> float:
    node: Any = cal
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"calibration has no {'.'.join(keys)}")
        node = node[key]
    return float(node["value"] if isinstance(node, dict) else node)


def _per_underlying(cal: dict[str, Any], section: str, key: str) -> np.ndarray:
    return np.array([_value(cal, section, u, key) for u in UNDERLYINGS])


@dataclass(frozen=True)
class Params:
    """Model parameters read from a calibration dict; arrays are ``[U]`` in UNDERLYINGS order."""

    sigma: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    nu: float
    rho: float
    news_weight: float
    cap: np.ndarray
    robust_sigma: np.ndarray
    wick_over_sigma: np.ndarray
    jump_common_rate: float
    jump_idio_rate: np.ndarray
    jump_log_mean: np.ndarray
    jump_log_std: np.ndarray
    jump_down: np.ndarray
    jump_size_rho: float
    funding_mean: np.ndarray
    funding_ar1: np.ndarray
    funding_eps: np.ndarray
    funding_cap: np.ndarray
    funding_rho: float
    basis_mean: np.ndarray
    basis_ar1: np.ndarray
    basis_eps: np.ndarray
    basis_rho: float
    spread_sigma: np.ndarray
    spread_ar1: np.ndarray
    mark_wick_ratio: np.ndarray

    @classmethod
    def from_calibration(cls, c: dict[str, Any]) -> Params:
        per = _per_underlying
        return cls(
            sigma=per(c, "returns", "diffusion_sigma_1h"),
            alpha=per(c, "returns", "garch_alpha"),
            beta=per(c, "returns", "garch_beta"),
            nu=_value(c, "returns", "joint", "student_t_nu"),
            rho=_value(c, "returns", "joint", "innovation_correlation"),
            news_weight=_value(c, "returns", "joint", "shared_news_weight"),
            cap=_value(c, "jumps", "threshold_k") * per(c, "returns", "residual_robust_sigma"),
            robust_sigma=per(c, "returns", "robust_sigma_1h"),
            wick_over_sigma=per(c, "returns", "wick_over_sigma"),
            jump_common_rate=_value(c, "jumps", "common", "rate_per_year"),
            jump_idio_rate=per(c, "jumps", "idiosyncratic_rate_per_year"),
            jump_log_mean=per(c, "jumps", "log_size_mean"),
            jump_log_std=per(c, "jumps", "log_size_std"),
            jump_down=per(c, "jumps", "down_share"),
            jump_size_rho=_value(c, "jumps", "common", "log_size_correlation"),
            funding_mean=per(c, "funding", "mean"),
            funding_ar1=per(c, "funding", "ar1"),
            funding_eps=per(c, "funding", "innovation_std"),
            funding_cap=per(c, "funding", "max_abs"),
            funding_rho=_value(c, "funding", "innovation_correlation"),
            basis_mean=per(c, "basis", "mean_annual"),
            basis_ar1=per(c, "basis", "ar1_hourly"),
            basis_eps=per(c, "basis", "innovation_std"),
            basis_rho=_value(c, "basis", "innovation_correlation"),
            spread_sigma=per(c, "mark", "spread_sigma"),
            spread_ar1=per(c, "mark", "spread_ar1"),
            mark_wick_ratio=per(c, "mark", "wick_ratio"),
        )

    def check(self) -> None:
        if not 0.0 <= self.news_weight <= 1.0:
            raise ConfigError(
                f"calibration returns.joint.shared_news_weight must lie in [0, 1], got {self.news_weight}"
            )
        if self.nu <= 2.0:
            raise ConfigError(f"calibration returns.joint.student_t_nu must exceed 2, got {self.nu}")
        if np.any(self.alpha + self.beta >= 1.0) or np.any(self.alpha < 0) or np.any(self.beta < 0):
            raise ConfigError("calibration garch_alpha + garch_beta must be below 1 (stationary variance)")
        for name in ("rho", "funding_rho", "basis_rho", "jump_size_rho"):
            if not -1.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"calibration correlation {name} must lie in (-1, 1)")
        for name in ("funding_ar1", "basis_ar1", "spread_ar1"):
            if np.any(np.abs(getattr(self, name)) >= 1.0):
                raise ConfigError(f"calibration {name} must lie in (-1, 1)")


# ---------------------------------------------------------------- random pieces


def _correlated_normals(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """[n, 2] standard normals with correlation ``rho``."""
    e = rng.standard_normal((n, 2))
    return np.column_stack([e[:, 0], rho * e[:, 0] + np.sqrt(1.0 - rho**2) * e[:, 1]])


def _ar1(mean: np.ndarray, phi: np.ndarray, eps_std: np.ndarray, shocks: np.ndarray) -> np.ndarray:
    """[n, U] AR(1) paths around ``mean`` from standard-normal ``shocks``, started in the stationary law."""
    out = np.empty_like(shocks)
    out[0] = mean + eps_std / np.sqrt(1.0 - phi**2) * shocks[0]
    scaled = (eps_std * shocks).tolist()
    for u in range(shocks.shape[1]):
        m, p, x, col = float(mean[u]), float(phi[u]), float(out[0, u]), out[:, u]
        path = [x]
        for t in range(1, len(scaled)):
            x = m + p * (x - m) + scaled[t][u]
            path.append(x)
        col[:] = path
    return out


def _bivariate_t(rng: np.random.Generator, n: int, nu: float, rho: float) -> np.ndarray:
    chi = rng.chisquare(nu, n)
    return _correlated_normals(rng, n, rho) * np.sqrt((nu - 2.0) / chi)[:, None]


def truncated_t_variance(nu: float, cap: float) -> float:
    """Variance of a unit-variance Student-t conditioned on ``|z| <= cap`` (trapezoid rule)."""
    z = np.linspace(0.0, cap, 20_001)
    density = (1.0 + z**2 / (nu - 2.0)) ** (-(nu + 1.0) / 2.0)  # constant cancels in the ratio
    return float(np.trapezoid(z**2 * density, z) / np.trapezoid(density, z))


def innovations(rng: np.random.Generator, n: int, nu: float, rho: float, cap: np.ndarray) -> np.ndarray:
    """[n, 2] diffusion innovations: bivariate Student-t (one shared chi-square, correlation ``rho``),
    rows with any ``|z| > cap`` redrawn, then rescaled to unit variance.

    The fit zeroed jump hours, so moves beyond the jump threshold belong to the jump process, not here.
    """
    z = _bivariate_t(rng, n, nu, rho)
    bad = (np.abs(z) > cap).any(axis=1)
    while bad.any():
        z[bad] = _bivariate_t(rng, int(bad.sum()), nu, rho)
        bad = (np.abs(z) > cap).any(axis=1)
    return z / np.sqrt([truncated_t_variance(nu, float(c)) for c in cap])


def garch_variances(
    z: np.ndarray, sigma: np.ndarray, alpha: np.ndarray, beta: np.ndarray, news_weight: float
) -> np.ndarray:
    """[T, U] conditional variances ``s2[t] = w + (alpha news[t-1] + beta) s2[t-1]``, started at sigma**2.

    ``news = news_weight x mean over coins of z**2 + (1 - news_weight) x own z**2``: the shared part
    makes the coins' volatilities move together as much as the measured ones do. ``E[news] = 1``, so
    the unconditional variance stays ``sigma**2`` (variance targeting, ``w = sigma**2 (1 - alpha - beta)``).
    """
    news = news_weight * np.mean(z**2, axis=1, keepdims=True) + (1.0 - news_weight) * z**2
    coef = (alpha * news + beta).tolist()
    out = np.empty_like(z)
    for u in range(z.shape[1]):
        target = float(sigma[u] ** 2)
        omega = target * (1.0 - alpha[u] - beta[u])
        s, path = target, [target]
        for t in range(len(coef) - 1):
            s = omega + coef[t][u] * s
            path.append(s)
        out[:, u] = path
    return out


def _returns(rng: np.random.Generator, p: Params, bars: int) -> tuple[np.ndarray, np.ndarray]:
    """([T, U] log returns, [T, U] diffusion volatility)."""
    z = innovations(rng, bars, p.nu, p.rho, p.cap)
    vol = np.sqrt(garch_variances(z, p.sigma, p.alpha, p.beta, p.news_weight))
    return vol * z + _jumps(rng, p, bars), vol


def _jumps(rng: np.random.Generator, p: Params, bars: int) -> np.ndarray:
    """[T, U] jump log returns: common events (shared sign) plus idiosyncratic ones."""
    common = rng.random(bars) < p.jump_common_rate / HOURS_PER_YEAR
    common_sign = np.where(rng.random(bars) < p.jump_down.mean(), -1.0, 1.0)
    common_size = np.exp(p.jump_log_mean + p.jump_log_std * _correlated_normals(rng, bars, p.jump_size_rho))
    idio = rng.random((bars, 2)) < p.jump_idio_rate / HOURS_PER_YEAR
    idio_sign = np.where(rng.random((bars, 2)) < p.jump_down, -1.0, 1.0)
    idio_size = np.exp(p.jump_log_mean + p.jump_log_std * rng.standard_normal((bars, 2)))
    jumps = common[:, None] * common_sign[:, None] * common_size + idio * idio_sign * idio_size
    # Down jumps outnumber up jumps in the data; removing their expected sum keeps the log price
    # driftless (otherwise the asymmetry alone sinks the median path by about 20 % a year).
    mean_size = np.exp(p.jump_log_mean + p.jump_log_std**2 / 2)
    expected = (
        (p.jump_common_rate * (1 - 2 * p.jump_down.mean()) + p.jump_idio_rate * (1 - 2 * p.jump_down))
        * mean_size
        / HOURS_PER_YEAR
    )
    return jumps - expected


def _wicks(
    rng: np.random.Generator, p: Params, r: np.ndarray, vol: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """([T, U] log excursion above max(open, close), [T, U] below min) from a Brownian bridge.

    The bridge from 0 to ``r`` with volatility ``vol`` has ``P(max > m) = exp(-2 m (m - r) / vol**2)``;
    inverting it gives the draw. Both are then scaled so median(up + down) / robust sigma equals the
    measured ``wick_over_sigma``.
    """
    log_u = np.log1p(-rng.random((2, *r.shape)))  # log of a uniform on (0, 1]
    top = 0.5 * (r + np.sqrt(r**2 - 2.0 * vol**2 * log_u[0])) - np.maximum(r, 0.0)
    bottom = np.minimum(r, 0.0) - 0.5 * (r - np.sqrt(r**2 - 2.0 * vol**2 * log_u[1]))
    scale = p.wick_over_sigma * p.robust_sigma / np.median(top + bottom, axis=0)
    return top * scale, bottom * scale


# ---------------------------------------------------------------- bars


@dataclass(frozen=True)
class _Bars:
    """[T, U] (perpetuals) or [T, 1] (one quarterly) OHLC for last trade and mark."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    mark_open: np.ndarray
    mark_high: np.ndarray
    mark_low: np.ndarray
    mark_close: np.ndarray


def _ohlc(open_: np.ndarray, close: np.ndarray, up: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, ...]:
    return open_, np.maximum(open_, close) * np.exp(up), np.minimum(open_, close) * np.exp(-down), close


def _perp_bars(
    rng: np.random.Generator, p: Params, r: np.ndarray, vol: np.ndarray
) -> tuple[_Bars, np.ndarray, np.ndarray]:
    """(perp bars, [T, U] last-trade wick up, down) from log returns."""
    close = START_PRICE * np.exp(np.cumsum(r, axis=0))
    open_ = np.vstack([START_PRICE, close[:-1]])
    up, down = _wicks(rng, p, r, vol)
    spread = _ar1(
        np.zeros(2),
        p.spread_ar1,
        p.spread_sigma * np.sqrt(1.0 - p.spread_ar1**2),
        rng.standard_normal((len(r) + 1, 2)),
    )
    mark = np.exp(spread)
    mark_close = close * mark[1:]
    mark_open = np.vstack([open_[0] * mark[0], mark_close[:-1]])
    ratio = p.mark_wick_ratio
    bars = _Bars(*_ohlc(open_, close, up, down), *_ohlc(mark_open, mark_close, up * ratio, down * ratio))
    return bars, up, down


def _funding(rng: np.random.Generator, p: Params, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([T, U] funding rate, [T] due) with settlements in the bars opening at 00/08/16 UTC."""
    hours = (times - times.astype("datetime64[D]")) // HOUR
    due = hours % FUNDING_EVERY_H == 0
    shocks = _correlated_normals(rng, max(int(due.sum()), 1), p.funding_rho)
    path = _ar1(p.funding_mean, p.funding_ar1, p.funding_eps, shocks)[: int(due.sum())]
    rate = np.zeros((len(times), 2))
    rate[due] = np.clip(path, -p.funding_cap, p.funding_cap)
    return rate, due


@dataclass(frozen=True)
class _Quarterly:
    underlying: int
    listing: np.datetime64
    delivery: np.datetime64


def _quarterlies(times: np.ndarray) -> list[_Quarterly]:
    """Contracts listed at some bar: each lists when the previous-but-one delivers, ordered by delivery."""
    deliveries = quarterly_deliveries(times[0] - LISTING_LOOKAROUND, times[-1] + LISTING_LOOKAROUND)
    out = []
    for k in range(2, len(deliveries)):
        listing, delivery = deliveries[k - 2], deliveries[k]
        if delivery > times[0] and listing <= times[-1]:
            out.extend(_Quarterly(u, listing, delivery) for u in range(len(UNDERLYINGS)))
    return out


def _quarterly_bars(
    perp: _Bars,
    up: np.ndarray,
    down: np.ndarray,
    mark_wick_ratio: np.ndarray,
    basis: np.ndarray,
    edges: np.ndarray,
    q: _Quarterly,
) -> tuple[_Bars, np.ndarray]:
    """(one quarterly's bars [T, 1] priced off the perp and its wicks, [T] listed), NaN where not listed."""
    tau = np.maximum((q.delivery - edges) / YEAR, 0.0)
    factor = 1.0 + basis[:, q.underlying] * tau
    f_open, f_close = factor[:-1, None], factor[1:, None]
    u = slice(q.underlying, q.underlying + 1)
    ratio = mark_wick_ratio[u]
    last = _ohlc(perp.open[:, u] * f_open, perp.close[:, u] * f_close, up[:, u], down[:, u])
    mark = _ohlc(
        perp.mark_open[:, u] * f_open, perp.mark_close[:, u] * f_close, up[:, u] * ratio, down[:, u] * ratio
    )
    listed = (edges[:-1] >= q.listing) & (edges[:-1] < q.delivery)
    fields = [np.where(listed[:, None], x, np.nan) for x in (*last, *mark)]
    return _Bars(*fields), listed


# ---------------------------------------------------------------- assembly


def _clock(start: str, bars: int) -> np.ndarray:
    if not isinstance(bars, int | np.integer) or bars < 1:
        raise ConfigError(f"synthetic market: bars must be a positive integer, got {bars!r}")
    try:
        t0 = np.datetime64(start, "ms")
    except ValueError:
        raise ConfigError(f"synthetic market: start {start!r} is not a date such as 2024-01-01") from None
    if (t0 - t0.astype("datetime64[h]")) != np.timedelta64(0, "ms"):
        raise ConfigError(f"synthetic market: start {start!r} must fall on the hour (bars are hourly)")
    return t0 + np.arange(bars) * HOUR


def generate_market(
    seed: int = 7, start: str = "2024-01-01", bars: int = 8760, calibration: dict[str, Any] | None = None
) -> Market:
    """Hourly synthetic market: BTCUSDT, ETHUSDT and their listed quarterlies; same seed, same arrays."""
    times = _clock(start, bars)
    params = Params.from_calibration(calibration if calibration is not None else load_calibration())
    params.check()
    rng = np.random.default_rng(seed)
    r, vol = _returns(rng, params, bars)
    perp, up, down = _perp_bars(rng, params, r, vol)
    rate, due = _funding(rng, params, times)
    basis = _ar1(
        params.basis_mean,
        params.basis_ar1,
        params.basis_eps,
        _correlated_normals(rng, bars + 1, params.basis_rho),
    )
    edges = np.append(times, times[-1] + HOUR)

    instruments: list[Instrument] = [instrument_for(f"{u}USDT") for u in UNDERLYINGS]
    columns = [perp]
    listed = [np.ones((bars, 2), dtype=bool)]
    settlement, expiry_bar = [np.nan, np.nan], [-1, -1]
    for q in _quarterlies(times):
        bars_q, listed_q = _quarterly_bars(perp, up, down, params.mark_wick_ratio, basis, edges, q)
        instruments.append(instrument_for(dated_symbol(f"{UNDERLYINGS[q.underlying]}USDT", q.delivery)))
        columns.append(bars_q)
        listed.append(listed_q[:, None])
        last = int(np.searchsorted(times, q.delivery, side="left")) - 1
        ends_inside = q.delivery <= edges[-1]
        expiry_bar.append(last if ends_inside else -1)
        settlement.append(float(perp.mark_close[last, q.underlying]) if ends_inside else np.nan)

    n_dated = len(instruments) - 2
    funding_rate = np.hstack([rate, np.zeros((bars, n_dated))])
    funding_due = np.hstack([np.repeat(due[:, None], 2, axis=1), np.zeros((bars, n_dated), dtype=bool)])
    fields = {name: np.hstack([getattr(c, name) for c in columns]) for name in _Bars.__dataclass_fields__}
    return Market(
        times=times,
        instruments=tuple(instruments),
        **fields,
        funding_rate=np.where(funding_due, funding_rate, 0.0),
        funding_due=funding_due,
        listed=np.hstack(listed),
        settlement=np.array(settlement),
        expiry_bar=np.array(expiry_bar, dtype=np.intp),
        source=f"synthetic (seed {seed}, calibrated to Binance history)",
        notes=(
            "synthetic market: prices are simulated, not history; calibration in datasets/calibration.json",
            "quarterly settlement = perpetual mark close at delivery (Binance: a 30-minute index average)",
            "both listed quarterlies of an underlying share one annualised basis (flat term structure)",
        ),
    )
