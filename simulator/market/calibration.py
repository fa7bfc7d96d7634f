"""Measure the synthetic market's calibration numbers from real Binance history.

This module owns ``datasets/calibration.json``: every number the synthetic generator
(:mod:`simulator.market.synthetic`) uses is measured here from the staged history in
``$PMSIM_DATA_DIR`` (the staged Binance CSVs), read in place with pandas. Each number is stored as a
leaf ``{"value", "how", "span", "source"}`` so a reader can see what was measured, over which dates
and from which files (paths relative to the data folder).

Definitions used throughout:

* returns are hourly log returns of USDⓈ-M perpetual closes, from 2019-09-09 (BTC) and 2019-11-28
  (ETH), after the pre-launch placeholder bars;
* robust sigma = 1.4826 x median absolute deviation (equals the standard deviation for a normal);
* a jump is an hour with ``|r| > JUMP_K x local sigma``, local sigma = 1.4826 x the median of ``|r|``
  over the previous ``JUMP_WINDOW_H`` hours (the hour itself excluded);
* volatility clustering is GARCH(1,1) fitted by Gaussian quasi-likelihood with variance targeting on
  the returns with jump hours zeroed; fat tails are the Student-t degrees of freedom that maximise the
  likelihood of the standardised residuals.

Run ``python -m simulator.market.calibration [--data DIR] [--out FILE]`` to regenerate the file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pmsim.simulator.atomic import write_text
from pmsim.simulator.errors import DataError
from pmsim.simulator.paths import DATASETS

DATA_ENV = "PMSIM_DATA_DIR"
DEFAULT_OUT = DATASETS / "calibration.json"
UNDERLYINGS = ("BTC", "ETH")
FIRST_DAY = {"BTC": "2019-09-09", "ETH": "2019-11-28"}
HOUR_MS = 3_600_000
YEAR_MS = 365 * 24 * HOUR_MS
HOURS_PER_YEAR = 24 * 365
ROBUST = 1.4826
JUMP_K = 8.0
JUMP_WINDOW_H = 168
GARCH_BURN_IN_H = 500
GARCH_MAX_REFINE = 20
NEWS_SIM_YEARS = 10
NEWS_SIM_SEED = 0
COMOVE_ROUNDS = 2
BASIS_MIN_DAYS = 14
SIGNIFICANT = 6

Leaf = dict[str, Any]


def default_data_dir() -> Path:
    """``$PMSIM_DATA_DIR``, else the shared data folder beside the repository (a development checkout)."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else DATASETS.parent.parent / "shared" / "data"


# ---------------------------------------------------------------- reading


def _read(data_dir: Path, rel: str, time_col: str) -> pd.DataFrame:
    path = data_dir / rel
    if not path.is_file():
        raise DataError(f"calibration input missing (set {DATA_ENV} to the shared data folder)", file=path)
    frame = pd.read_csv(path)
    if time_col not in frame.columns:
        raise DataError(f"no column {time_col!r}", file=path)
    return frame.set_index(time_col).sort_index()


def _ms(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").value // 1_000_000)


def _klines(data_dir: Path, kind: str, underlying: str) -> pd.DataFrame:
    frame = _read(data_dir, f"binance-um/{kind}/1h/{underlying}USDT.csv", "open_time")
    return frame[frame.index >= _ms(FIRST_DAY[underlying])]


def _day(ms: int | np.integer) -> str:
    return str(pd.Timestamp(int(ms), unit="ms").date())


def _span(index: Sequence[int] | pd.Index) -> str:
    return f"{_day(index[0])} .. {_day(index[-1])}"


def _leaf(value: float, how: str, span: str, source: Sequence[str]) -> Leaf:
    rounded = float(f"{value:.{SIGNIFICANT}g}")
    return {"value": rounded, "how": how, "span": span, "source": list(source)}


# ---------------------------------------------------------------- statistics


def robust_sigma(x: np.ndarray) -> float:
    """1.4826 x median absolute deviation."""
    return float(ROBUST * np.median(np.abs(x - np.median(x))))


def log_returns(close: pd.Series) -> pd.Series:
    """Hourly log returns indexed by the open time of the bar they end in."""
    return np.log(close).diff().iloc[1:]


@dataclass(frozen=True)
class Jumps:
    """Jump classification of hourly returns ``[T, U]`` (one column per underlying).

    ``own``: ``|r| > k x local sigma``; ``common``: some coin has ``own`` and every coin moves more than
    ``k/2 x`` its local sigma in the same direction; ``jump``: ``own | common`` (the hours treated as
    jumps, not diffusion); ``tested``: hours where the local sigma is defined.
    """

    own: pd.DataFrame
    common: pd.Series
    jump: pd.DataFrame
    tested: pd.DataFrame

    @classmethod
    def classify(cls, rets: pd.DataFrame, k: float = JUMP_K) -> Jumps:
        local = pd.DataFrame(
            {u: ROBUST * rets[u].dropna().abs().rolling(JUMP_WINDOW_H).median().shift(1) for u in rets}
        ).reindex(rets.index)
        scaled = rets / local
        own = scaled.abs() > k
        same_sign = np.sign(rets).nunique(axis=1, dropna=False) == 1
        common = own.any(axis=1) & (scaled.abs() > k / 2).all(axis=1) & same_sign
        jump = own | pd.DataFrame({u: common for u in rets})
        return cls(own, common, jump, scaled.notna())


def ar1(x: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """OLS of ``y`` on ``x`` with intercept: (slope, residual std, residuals)."""
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    return float(slope), float(resid.std()), resid


def _smoothed_excess(returns: np.ndarray, beta: float) -> np.ndarray:
    """``(1 - beta) * sum_k beta**k (r[t-1-k]**2 - target)`` for every t (0 at t = 0), target = mean r**2."""
    target = float(np.mean(returns**2))
    excess = np.concatenate([[0.0], returns[:-1] ** 2 - target])
    return pd.Series(excess).ewm(alpha=1.0 - beta, adjust=False).mean().to_numpy()


def garch_variance(returns: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """[T] GARCH(1,1) variance path, variance-targeted to mean(r**2) and started there.

    ``s2[t] = target + alpha * sum_k beta**k (r[t-1-k]**2 - target)``: an exponential filter, so one
    pass serves every ``alpha`` for a given ``beta``.
    """
    target = float(np.mean(returns**2))
    return np.maximum(target + alpha / (1.0 - beta) * _smoothed_excess(returns, beta), 1e-12)


def _profile_loglik(returns: np.ndarray, alphas: np.ndarray, beta: float) -> np.ndarray:
    """[A] Gaussian log-likelihood (burn-in dropped) for each alpha at one beta."""
    target = float(np.mean(returns**2))
    smoothed = _smoothed_excess(returns, beta)[GARCH_BURN_IN_H:]
    s2 = np.maximum(target + np.outer(smoothed, alphas / (1.0 - beta)), 1e-12)
    r2 = returns[GARCH_BURN_IN_H:, None] ** 2
    return -0.5 * (np.log(s2) + r2 / s2).sum(axis=0)


def fit_garch(returns: np.ndarray) -> tuple[float, float]:
    """(alpha, beta) maximising the Gaussian quasi-likelihood: a coarse grid, then a 0.001 grid
    re-centred on the best point until it stops moving (the optimum lies on a ridge of alpha + beta)."""
    best = _grid_best(returns, np.arange(0.01, 0.301, 0.01), np.arange(0.60, 0.996, 0.005))
    for _ in range(GARCH_MAX_REFINE):
        a, b = best[1:]
        fine = _grid_best(
            returns,
            np.arange(max(a - 0.01, 0.001), a + 0.0101, 0.001),
            np.arange(b - 0.01, min(b + 0.0101, 0.999), 0.001),
        )
        if fine[1:] == best[1:]:
            break
        best = max(best, fine)
    return best[1], best[2]


def _grid_best(returns: np.ndarray, alphas: np.ndarray, betas: np.ndarray) -> tuple[float, float, float]:
    best = (-np.inf, float(alphas[0]), float(betas[0]))
    for beta in betas:
        ok = alphas + beta < 0.999
        if not ok.any():
            continue
        ll = _profile_loglik(returns, alphas[ok], float(beta))
        k = int(np.argmax(ll))
        best = max(best, (float(ll[k]), round(float(alphas[ok][k]), 4), round(float(beta), 4)))
    return best


def student_t_loglik(z: np.ndarray, nu: float) -> float:
    """Log-likelihood of ``z`` under a Student-t scaled to unit variance."""
    const = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(math.pi * (nu - 2))
    return float(z.size * const - (nu + 1) / 2 * np.log1p(z**2 / (nu - 2)).sum())


def fit_nu(samples: Sequence[np.ndarray]) -> float:
    """Degrees of freedom (grid 2.5 .. 30 by 0.1) maximising the summed unit-variance t likelihood."""
    grid = np.round(np.arange(2.5, 30.0001, 0.1), 1)
    ll = [sum(student_t_loglik(z, float(nu)) for z in samples) for nu in grid]
    return float(grid[int(np.argmax(ll))])


# ---------------------------------------------------------------- sections


def _perp_returns(data_dir: Path) -> pd.DataFrame:
    """[T, U] hourly log returns of the perpetuals (NaN before an underlying's first day)."""
    return pd.DataFrame({u: log_returns(_klines(data_dir, "klines", u)["close"]) for u in UNDERLYINGS})


def _returns_section(
    data_dir: Path, rets: pd.DataFrame, jumps: Jumps
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Per-underlying volatility, clustering and wick numbers; also [T, U] GARCH residuals (non-jump
    hours after the burn-in) and GARCH volatilities (after the burn-in)."""
    out: dict[str, Any] = {}
    resid: dict[str, pd.Series] = {}
    vols: dict[str, pd.Series] = {}
    for u in UNDERLYINGS:
        bars = _klines(data_dir, "klines", u)
        src = [f"binance-um/klines/1h/{u}USDT.csv"]
        r = rets[u].dropna()
        is_jump = jumps.jump[u].reindex(r.index)
        span = _span(r.index)
        diffusion = r.where(~is_jump, 0.0).to_numpy()
        alpha, beta = fit_garch(diffusion)
        vol = pd.Series(np.sqrt(garch_variance(diffusion, alpha, beta)), index=r.index)
        resid[u] = (r / vol)[~is_jump].iloc[GARCH_BURN_IN_H:]
        vols[u] = vol.iloc[GARCH_BURN_IN_H:]
        sigma = robust_sigma(r.to_numpy())
        out[u] = {
            "robust_sigma_1h": _leaf(
                sigma, "1.4826 x MAD of hourly log returns (normal-regime vol)", span, src
            ),
            "sigma_1h": _leaf(float(r.std()), "standard deviation of all hourly log returns", span, src),
            "diffusion_sigma_1h": _leaf(
                float(np.sqrt(np.mean(diffusion**2))),
                "RMS of hourly log returns with jump hours set to 0 (GARCH variance target)",
                span,
                src,
            ),
            "garch_alpha": _leaf(
                alpha,
                "GARCH(1,1) alpha: Gaussian QMLE, variance targeting, jump hours zeroed, 0.001 grid",
                span,
                src,
            ),
            "garch_beta": _leaf(beta, "GARCH(1,1) beta, fitted jointly with garch_alpha", span, src),
            "residual_robust_sigma": _leaf(
                robust_sigma(resid[u].to_numpy()),
                "1.4826 x MAD of GARCH residuals of non-jump hours (x threshold_k = the innovation cap)",
                span,
                src,
            ),
            "student_t_nu": _leaf(
                fit_nu([resid[u].to_numpy()]),
                "t degrees of freedom maximising the likelihood of the GARCH residuals (non-jump hours)",
                span,
                src,
            ),
            "wick_over_sigma": _leaf(
                float(np.median(_wick(bars))) / sigma,
                "median of log(high/low) - |log(close/open)|, over robust_sigma_1h",
                span,
                src,
            ),
        }
    return out, pd.DataFrame(resid).dropna(), pd.DataFrame(vols).dropna()


def _joint_section(
    rets: pd.DataFrame, z: pd.DataFrame, vols: pd.DataFrame, returns: dict[str, Any], jumps: Jumps
) -> dict[str, Leaf]:
    """BTC/ETH return and innovation correlations, the shared t degrees of freedom, and how much of the
    GARCH news the coins share."""
    src = [f"binance-um/klines/1h/{u}USDT.csv" for u in UNDERLYINGS]
    both = rets.dropna()
    quiet = both[~jumps.jump.reindex(both.index).any(axis=1)]
    nu = fit_nu([z[u].to_numpy() for u in UNDERLYINGS])
    rho = float(z.corr().iloc[0, 1])
    vol_corr = float(vols.corr().iloc[0, 1])
    garch = [(returns[u]["garch_alpha"]["value"], returns[u]["garch_beta"]["value"]) for u in UNDERLYINGS]
    cap = np.array([JUMP_K * returns[u]["residual_robust_sigma"]["value"] for u in UNDERLYINGS])
    ex_jump = float(quiet.corr().iloc[0, 1])
    weight, innov_rho = fit_comovement(garch, nu, rho, cap, vol_corr, ex_jump)
    return {
        "return_correlation": _leaf(
            float(both.corr().iloc[0, 1]),
            "Pearson correlation of hourly log returns, common hours",
            _span(both.index),
            src,
        ),
        "ex_jump_correlation": _leaf(
            ex_jump,
            "Pearson correlation of hourly log returns, hours with no jump in either",
            _span(both.index),
            src,
        ),
        "residual_correlation": _leaf(
            rho,
            "Pearson correlation of GARCH-standardised residuals, non-jump hours (innovation correlation)",
            _span(z.index),
            src,
        ),
        "student_t_nu": _leaf(
            nu,
            "one t degrees of freedom maximising the summed likelihood of both residual series (bivariate t)",
            _span(z.index),
            src,
        ),
        "garch_vol_correlation": _leaf(
            vol_corr,
            "Pearson correlation of the BTC and ETH fitted GARCH volatility paths",
            _span(vols.index),
            src,
        ),
        "shared_news_weight": _leaf(
            weight,
            "weight of the coins' mean squared innovation in each GARCH update; fitted with "
            f"innovation_correlation so {NEWS_SIM_YEARS} simulated years (seed {NEWS_SIM_SEED}), re-filtered "
            "like the data, give garch_vol_correlation",
            _span(vols.index),
            src,
        ),
        "innovation_correlation": _leaf(
            innov_rho,
            "model innovation correlation, fitted with shared_news_weight so the simulated diffusion "
            "gives ex_jump_correlation (constant-correlation innovations need more than the residuals show)",
            _span(vols.index),
            src,
        ),
    }


def simulate_correlations(
    garch: Sequence[tuple[float, float]], nu: float, rho: float, cap: np.ndarray, weight: float
) -> tuple[float, float]:
    """(vol correlation, return correlation) of the model's diffusion over NEWS_SIM_YEARS, the vols
    re-filtered from the simulated returns with each coin's own GARCH, as from the data."""
    from pmsim.simulator.market.synthetic import garch_variances, innovations

    alpha, beta = np.array(garch).T
    z = innovations(np.random.default_rng(NEWS_SIM_SEED), NEWS_SIM_YEARS * HOURS_PER_YEAR, nu, rho, cap)
    r = np.sqrt(garch_variances(z, np.ones(2), alpha, beta, weight)) * z
    filtered = [np.sqrt(garch_variance(r[:, u], alpha[u], beta[u]))[GARCH_BURN_IN_H:] for u in range(2)]
    return float(np.corrcoef(filtered)[0, 1]), float(np.corrcoef(r.T)[0, 1])


def _bisect(rises: Any, lo: int, hi: int, target: float) -> int:
    """Integer in [lo, hi] where the increasing ``rises(k)`` comes closest to ``target``."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if rises(mid) < target else (lo, mid)
    return min((lo, hi), key=lambda k: (abs(rises(k) - target), k))


def fit_comovement(
    garch: Sequence[tuple[float, float]],
    nu: float,
    rho0: float,
    cap: np.ndarray,
    vol_corr: float,
    ret_corr: float,
) -> tuple[float, float]:
    """(shared-news weight, innovation correlation) whose simulation reproduces the measured GARCH
    vol correlation and ex-jump return correlation; alternating bisections on common random numbers,
    weight in 0.01 steps, correlation in 0.001 steps from the residual correlation up."""
    weight, rho = 0.0, rho0
    for _ in range(COMOVE_ROUNDS):
        weight = (
            _bisect(
                lambda k, rho=rho: simulate_correlations(garch, nu, rho, cap, k / 100)[0], 0, 100, vol_corr
            )
            / 100
        )
        rho = (
            _bisect(
                lambda k, weight=weight: simulate_correlations(garch, nu, k / 1000, cap, weight)[1],
                int(rho0 * 1000),
                990,
                ret_corr,
            )
            / 1000
        )
    return weight, rho


def _jump_section(rets: pd.DataFrame, jumps: Jumps) -> dict[str, Any]:
    """Jump rates (common and idiosyncratic) and log-normal jump sizes per underlying."""
    src = [f"binance-um/klines/1h/{u}USDT.csv" for u in UNDERLYINGS]
    both_tested = jumps.tested.all(axis=1)
    years = float(both_tested.sum()) / HOURS_PER_YEAR
    joint_span = _span(rets.index[both_tested.to_numpy()])
    common = jumps.common & both_tested
    out: dict[str, Any] = {}
    for u in UNDERLYINGS:
        r = rets[u][jumps.jump[u]]
        log_size = np.log(np.abs(r.to_numpy()))
        span = _span(rets[u].dropna().index)
        idio = jumps.own[u] & ~jumps.common & both_tested
        out[u] = {
            "rate_per_year": _leaf(
                float(jumps.jump[u].sum()) / float(jumps.tested[u].sum()) * HOURS_PER_YEAR,
                "jump hours (own or common) per year tested",
                span,
                src,
            ),
            "idiosyncratic_rate_per_year": _leaf(
                float(idio.sum()) / years,
                f"hours where {u} jumps and it is not a common jump, per year (both tested)",
                joint_span,
                src,
            ),
            "log_size_mean": _leaf(
                float(log_size.mean()), "mean of log|log return| over jump hours", span, src
            ),
            "log_size_std": _leaf(
                float(log_size.std()), "standard deviation of log|log return| over jump hours", span, src
            ),
            "down_share": _leaf(
                float((r < 0).mean()), "share of jump hours with a negative return", span, src
            ),
        }
    sizes = np.log(np.abs(rets[common].to_numpy()))
    out["common"] = {
        "rate_per_year": _leaf(
            float(common.sum()) / years, "common jump hours per year (both tested)", joint_span, src
        ),
        "log_size_correlation": _leaf(
            float(np.corrcoef(sizes[:, 0], sizes[:, 1])[0, 1]),
            "correlation of log|return| of BTC and ETH in common jump hours",
            joint_span,
            src,
        ),
    }
    return out


def _funding_section(data_dir: Path) -> dict[str, Any]:
    """8h funding level, dispersion, AR(1) persistence and BTC/ETH innovation correlation."""
    out: dict[str, Any] = {}
    innov = {}
    for u in UNDERLYINGS:
        rel = f"binance-um/fundingRate/{u}USDT.csv"
        frame = _read(data_dir, rel, "calc_time")
        rate = frame.loc[frame.index >= _ms(FIRST_DAY[u]), "last_funding_rate"]
        rate.index = (rate.index + HOUR_MS // 2) // HOUR_MS * HOUR_MS  # drop Binance's few-ms jitter
        x = rate.to_numpy()
        phi, eps, resid = ar1(x[:-1], x[1:])
        innov[u] = pd.Series(resid, index=rate.index[1:])
        span = _span(rate.index)
        out[u] = {
            "mean": _leaf(float(x.mean()), "mean 8h funding rate", span, [rel]),
            "std": _leaf(float(x.std()), "standard deviation of the 8h funding rate", span, [rel]),
            "ar1": _leaf(phi, "OLS slope of rate on the previous settlement's rate", span, [rel]),
            "innovation_std": _leaf(eps, "residual standard deviation of that AR(1)", span, [rel]),
            "max_abs": _leaf(
                float(np.abs(x).max()), "largest |rate| (Binance's cap binds there)", span, [rel]
            ),
        }
    both = pd.DataFrame(innov).dropna()
    out["innovation_correlation"] = _leaf(
        float(both.corr().iloc[0, 1]),
        "correlation of BTC and ETH AR(1) residuals at common settlements",
        _span(both.index),
        [f"binance-um/fundingRate/{u}USDT.csv" for u in UNDERLYINGS],
    )
    return out


def _basis_frame(data_dir: Path, u: str) -> tuple[pd.DataFrame, list[str]]:
    """Hourly annualised basis of every quarterly of ``u`` with at least BASIS_MIN_DAYS to delivery."""
    contracts = _read(data_dir, "binance-um/quarterly/contracts.csv", "symbol")
    perp = _read(data_dir, f"binance-um/klines/1h/{u}USDT.csv", "open_time")["close"]
    frames, files = [], []
    for symbol, row in contracts[contracts["pair"] == f"{u}USDT"].iterrows():
        rel = f"binance-um/quarterly/1h/{symbol}.csv"
        close = _read(data_dir, rel, "open_time")["close"]
        tau = (int(row["delivery_time"]) - (close.index.to_numpy() + HOUR_MS)) / YEAR_MS
        basis = (close / perp.reindex(close.index) - 1.0) / np.where(tau > 0, tau, np.nan)
        keep = (tau >= BASIS_MIN_DAYS / 365) & basis.notna().to_numpy()
        frames.append(pd.DataFrame({"basis": basis[keep], "contract": str(symbol)[-6:]}))
        files.append(rel)
    return pd.concat(frames), files


def _basis_section(data_dir: Path) -> dict[str, Any]:
    """Annualised quarterly basis: level, dispersion, hourly AR(1) and BTC/ETH innovation correlation."""
    out: dict[str, Any] = {}
    innov = {}
    for u in UNDERLYINGS:
        frame, files = _basis_frame(data_dir, u)
        src = [*files, f"binance-um/klines/1h/{u}USDT.csv", "binance-um/quarterly/contracts.csv"]
        lagged = frame.groupby("contract")["basis"].shift(1)
        pairs = frame.assign(prev=lagged).dropna()
        phi, eps, resid = ar1(pairs["prev"].to_numpy(), pairs["basis"].to_numpy())
        innov[u] = pd.Series(resid, index=pd.MultiIndex.from_arrays([pairs["contract"], pairs.index]))
        span = _span(np.sort(frame.index.to_numpy()))
        how = (
            "(quarterly close / perp close - 1) / years to delivery, "
            f"hours with >= {BASIS_MIN_DAYS} days left, all contracts pooled"
        )
        out[u] = {
            "mean_annual": _leaf(float(frame["basis"].mean()), f"mean of {how}", span, src),
            "std_annual": _leaf(
                float(frame["basis"].std()), "standard deviation of that annualised basis", span, src
            ),
            "ar1_hourly": _leaf(
                phi, "OLS slope of annualised basis on its previous hour, within each contract", span, src
            ),
            "innovation_std": _leaf(eps, "residual standard deviation of that hourly AR(1)", span, src),
        }
    both = pd.DataFrame(innov).dropna()
    out["innovation_correlation"] = _leaf(
        float(both.corr().iloc[0, 1]),
        "correlation of BTC and ETH hourly basis AR(1) residuals, same contract month and hour",
        out["BTC"]["mean_annual"]["span"],
        ["binance-um/quarterly/1h/*.csv", "binance-um/klines/1h/*.csv"],
    )
    return out


def _mark_section(data_dir: Path) -> dict[str, Any]:
    """Mark-vs-last spread (close to close) and how much smaller mark wicks are than last-trade wicks."""
    out: dict[str, Any] = {}
    for u in UNDERLYINGS:
        src = [f"binance-um/markPriceKlines/1h/{u}USDT.csv", f"binance-um/klines/1h/{u}USDT.csv"]
        mark = _klines(data_dir, "markPriceKlines", u)
        last = _klines(data_dir, "klines", u).reindex(mark.index)
        ok = last["close"].notna()
        mark, last = mark[ok], last[ok]
        spread = np.log(mark["close"] / last["close"]).to_numpy()
        span = _span(mark.index)
        out[u] = {
            "spread_sigma": _leaf(
                robust_sigma(spread), "1.4826 x MAD of log(mark close / last close)", span, src
            ),
            "spread_ar1": _leaf(
                float(np.corrcoef(spread[:-1], spread[1:])[0, 1]),
                "lag-1 hourly autocorrelation of that spread",
                span,
                src,
            ),
            "spread_p998": _leaf(
                float(np.quantile(np.abs(spread), 0.998)),
                "99.8% quantile of |spread| (the tail the model leaves out)",
                span,
                src,
            ),
            "wick_ratio": _leaf(
                float(np.median(_wick(mark)) / np.median(_wick(last))),
                "median mark wick / median last-trade wick; wick = log(high/low) - |log(close/open)|",
                span,
                src,
            ),
        }
    return out


def _wick(bars: pd.DataFrame) -> pd.Series:
    return np.log(bars["high"] / bars["low"]) - np.abs(np.log(bars["close"] / bars["open"]))


# ---------------------------------------------------------------- entry points


def measure(data_dir: Path | str | None = None) -> dict[str, Any]:
    """Measure every calibration number from the Binance history in ``data_dir``."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if not root.is_dir():
        raise DataError(f"calibration data folder not found (set {DATA_ENV} or pass --data)", file=root)
    rets = _perp_returns(root)
    jumps = Jumps.classify(rets)
    returns, resid, vols = _returns_section(root, rets, jumps)
    return {
        "about": "Calibration of pmsim's synthetic market, measured from real Binance USDⓈ-M history. "
        "Each leaf: value, how it was measured, the data span (UTC days), "
        "source files relative to the Binance data folder (PMSIM_DATA_DIR).",
        "regenerate": "python -m pmsim.simulator.market.calibration --data DATA_DIR "
        "--out datasets/calibration.json",
        "returns": {**returns, "joint": _joint_section(rets, resid, vols, returns, jumps)},
        "jumps": {
            "definition": f"local sigma = 1.4826 x median |r| over the previous {JUMP_WINDOW_H} hours; "
            f"a coin's own jump: |r| > {JUMP_K:g} local sigma; a common jump: some coin has its own jump "
            f"and both move > {JUMP_K / 2:g} local sigma in the same direction; "
            "jump hours of a coin = its own jumps + common jumps",
            "threshold_k": JUMP_K,
            **_jump_section(rets, jumps),
        },
        "funding": _funding_section(root),
        "basis": _basis_section(root),
        "mark": _mark_section(root),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulator.market.calibration", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"Binance history folder (default ${DATA_ENV})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    numbers = measure(args.data)
    write_text(args.out, json.dumps(numbers, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
